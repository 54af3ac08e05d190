"""The 'import' command's options, and what it prints."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

SOURCE_HELP = "wordpress (an export .xml file), jekyll, hugo or zola (a site's folder)"


def add_import_command(commands: argparse._SubParsersAction) -> None:
    """Declare 'import SOURCE PATH [FOLDER]' and its options."""
    command = commands.add_parser(
        "import", help="move an existing blog in: a WordPress export, or a Jekyll, Hugo "
                       "or Zola site",
        description="Import into a new site in FOLDER, made as 'init' makes one, or into "
                    "an existing site with --into. Writes import-report.json in the site: "
                    "what was imported, changed or left out, and why.")
    command.add_argument("source", choices=("wordpress", "jekyll", "hugo", "zola"),
                         help=SOURCE_HELP)
    command.add_argument("path", type=Path,
                         help="the WordPress export file, or the Jekyll, Hugo or Zola "
                              "site's folder")
    command.add_argument("folder", type=Path, nargs="?", default=None,
                         help="the new site's folder, made if missing (it must be empty)")
    command.add_argument("--into", type=Path, default=None, metavar="DIR",
                         help="import into the existing site in DIR instead; importing "
                              "again updates what the last import wrote, keeping files "
                              "you changed since")
    command.add_argument("--uploads", type=Path, default=None, metavar="DIR",
                         help="WordPress: a copy of wp-content/uploads; the images posts "
                              "use are copied beside them (otherwise they stay at their "
                              "old addresses)")
    command.add_argument("--force", action="store_true",
                         help="replace files you changed or deleted since the last import")
    command.add_argument("--base-url", default="", metavar="URL",
                         help="a new site's address (default: the old site's)")
    command.add_argument("--timezone", default="",
                         help="a new site's IANA time zone (default: the old site's "
                              "setting, else this machine's)")
    command.add_argument("--section", default="",
                         help="the section of posts without a category or section of "
                              "their own (default: the site's first)")
    command.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    command.add_argument("--now", default=None, help=argparse.SUPPRESS)


def run_import_command(args: argparse.Namespace, now: datetime, prog: str) -> int:
    """Run an import and print its summary; user errors propagate as BuildErrors."""
    from .run import SOURCE_NAMES, ImportOptions, run_import
    from .report import REPORT_NAME

    if args.folder is None and args.into is None:
        from ..errors import ConfigError
        raise ConfigError("name the new site's folder (import SOURCE PATH FOLDER), or "
                          "--into an existing site", "import")
    result = run_import(ImportOptions(
        kind=args.source, source=args.path, now=now, folder=args.folder, into=args.into,
        uploads=args.uploads, force=args.force, base_url=args.base_url,
        timezone=args.timezone, section=args.section))
    if args.quiet:
        return 0
    shown = (args.into or args.folder).as_posix()
    outcome = result.outcome
    print(f"imported {SOURCE_NAMES[args.source]} {args.path.name} into {shown}/:")
    for line in result.report.summary():
        print(line)
    print(f"  files: {len(outcome.written)} written, {len(outcome.unchanged)} unchanged")
    if outcome.kept:
        print(f"  kept {len(outcome.kept)} file(s) changed since the last import "
              f"(--force replaces them), such as {outcome.kept[0]}")
    if outcome.not_restored:
        print(f"  left out {len(outcome.not_restored)} file(s) deleted since the last "
              f"import (--force writes them again), such as {outcome.not_restored[0]}")
    if outcome.sections_added:
        print(f"  sections added to site.toml: {', '.join(outcome.sections_added)}")
    print(f"everything is listed in {shown}/{REPORT_NAME}")
    command = prog if prog.startswith("python -m") else "marginalia"
    print(f"next: cd {shown} && {command} build")
    return 0
