"""The command line: parse arguments, run a command, map user errors to exit codes."""

from __future__ import annotations

import argparse
import difflib
import os
import platform
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from . import installed_version
from .errors import BuildError, BuildErrors
from .frontmatter import parse_date
from .parse import Progress
from .pipeline import BuildOptions, build_site
from .importers.command import add_import_command
from .starter import SiteSettings

PROGRESS_THRESHOLD = 300  # smaller builds finish before a bar would help
EXIT_OK, EXIT_CONTENT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMANDS = ("build", "serve", "new", "check", "list", "init", "layouts", "import")
HIGHEST_PORT = 65535


def make_parser(prog: str | None = None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--site", type=Path, default=Path("."),
                        help="the site's root folder, holding site.toml (default: .)")
    common.add_argument("--now", default=None,
                        help="the time to judge future and expired posts by, "
                             "such as 2026-01-01T09:00:00Z (default: the clock)")
    common.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    common.add_argument("-v", "--verbose", action="store_true", help="print more detail")

    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--output", type=Path, default=None,
                        help="where to write the site (default: SITE/output)")
    output.add_argument("--report", type=Path, default=None, metavar="FILE",
                        help="write a JSON report of the build (also when it fails)")

    base_url = argparse.ArgumentParser(add_help=False)
    base_url.add_argument("--base-url", default=None, metavar="URL",
                          help="override base_url, for previews on another host or path")

    building = argparse.ArgumentParser(add_help=False)
    building.add_argument("--drafts", action="store_true", help="include draft posts")
    building.add_argument("--future", action="store_true",
                          help="include posts dated after --now")
    building.add_argument("--force", action="store_true",
                          help="replace an output folder this tool did not make")
    building.add_argument("--no-cache", action="store_true",
                          help="parse and render everything again, ignoring what "
                               ".cache/marginalia/ remembers")
    building.add_argument("--strict", action="store_true",
                          help="treat warnings, such as broken links, as errors")
    building.add_argument("--no-search", action="store_true",
                          help="build without the search index (the search page says "
                               "search is not available)")

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build a commentary blog into static HTML and feeds. "
                    "Without a command, 'build' runs.",
        epilog="'COMMAND -h' lists a command's options.")
    parser.add_argument("--version", action="version", version=version_text(),
                        help="print the engine's and Python's versions")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("build", parents=[common, output, base_url, building],
                        help="build the site into output/ (the default)")
    serve = commands.add_parser("serve", parents=[common, base_url],
                                help="preview the site with drafts and future posts, "
                                     "rebuilt and reloaded on every change")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on (default: 127.0.0.1, this machine "
                            "only; 0.0.0.0 for every network)")
    serve.add_argument("--port", type=port_number, default=8000,
                       help="the port to listen on (default: 8000; 0 picks a free one)")
    serve.add_argument("--open", action="store_true",
                       help="open the preview in the web browser once it is built")
    serve.add_argument("--no-drafts", action="store_true",
                       help="leave draft posts out of the preview")
    new = commands.add_parser("new", parents=[common], help="start a new post")
    new.add_argument("title", type=headline, help='the headline, in quotes: "Like This"')
    new.add_argument("--section", required=True,
                     help="the section, by name or slug, as declared in site.toml")
    new.add_argument("--slug", default=None,
                     help="the file name and URL segment (default: made from the title)")
    new.add_argument("--bundle", action="store_true",
                     help="make a folder with index.md, to keep the post's images beside it")
    check = commands.add_parser("check", parents=[common],
                                help="validate everything, links included, without writing")
    check.add_argument("--strict", action="store_true",
                       help="accepted as for build: check treats warnings as errors anyway")
    check.add_argument("--drafts", action="store_true",
                       help="check drafts too, and count their problems as errors")
    listing = commands.add_parser("list", parents=[common],
                                  help="list held-back posts: drafts, future or expired")
    listing.add_argument("which", choices=("drafts", "future", "expired"),
                         help="which held-back posts to list")
    init = commands.add_parser("init", help="start a new site in a folder")
    init.add_argument("folder", type=Path, nargs="?", default=Path("."),
                      help="the new site's folder, made if missing (default: .)")
    init.add_argument("--title", default=SiteSettings.title, help="the site's name")
    init.add_argument("--description", default=SiteSettings.description,
                      help="the tagline, under the title and in feeds")
    init.add_argument("--base-url", default=SiteSettings.base_url, metavar="URL",
                      help="the address the site will be served from "
                           f"(default: {SiteSettings.base_url}; change it in site.toml)")
    init.add_argument("--publisher", default="",
                      help="the copyright holder in the footer (default: the title)")
    init.add_argument("--timezone", default="",
                      help="an IANA zone such as America/New_York (default: this machine's)")
    init.add_argument("--force", action="store_true",
                      help="add the starter files to a folder that is not empty; "
                           "no file there is replaced")
    init.add_argument("--now", default=None, help=argparse.SUPPRESS)
    init.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    layouts = commands.add_parser("layouts", parents=[common],
                                  help="list the default layouts and theme files, or copy "
                                       "one into the site to change it")
    layouts.add_argument("--copy", metavar="NAME", action="append", default=[],
                         help="copy this default (such as post.html, partials/footer.html "
                              "or style.css) into the site's layouts/ or theme/")
    layouts.add_argument("--force", action="store_true",
                         help="replace the site's own copy with the default")
    add_import_command(commands)
    return parser


def version_text() -> str:
    """'marginalia 0.1.0 (Python 3.11.7)', the version from the installed package's metadata."""
    return f"marginalia {installed_version()} (Python {platform.python_version()})"


def port_number(text: str) -> int:
    """Read --port: a whole number a socket can listen on."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= HIGHEST_PORT:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a port: use a whole number from 0 to {HIGHEST_PORT}, "
            "such as 8000 (0 picks a free one)")
    return port


def headline(text: str) -> str:
    """Read the title of a new post, which must hold more than spaces."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            'the title is empty; give the headline in quotes, such as '
            'new "Pyongyang Tests Another Missile" --section NAME')
    return text


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the command line and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser(prog)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        parser.error(unknown_command(argv[0]))
    if not argv or argv[0] not in COMMANDS + ("-h", "--help", "--version"):
        argv.insert(0, "build")  # a build's options without the word 'build'
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        now = read_now(args.now)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return run_command(args, now, parser.prog)
    except BuildError as error:
        return report_errors(error)
    except KeyboardInterrupt:
        print("interrupted; the previous output is untouched", file=sys.stderr)
        return EXIT_INTERRUPTED


def unknown_command(word: str) -> str:
    """Say that a first word is no command, suggesting the closest one."""
    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    if close:
        return f"unknown command '{word}'; did you mean '{close[0]}'?"
    return f"unknown command '{word}'; the commands are {', '.join(COMMANDS)} (-h for help)"


def run(prog: str | None = None) -> NoReturn:
    """Run the command line as a program and exit with its code.

    The exit skips freeing the heap object by object, which takes a tenth of a
    second after a large build; every file is closed by then (mypy exits the same
    way). Under a profiler or a coverage tool, which write their results as the
    interpreter ends, the exit is the ordinary one.
    """
    code = main(prog=prog)
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said
        pass
    os._exit(code)


def run_command(args: argparse.Namespace, now: datetime, prog: str) -> int:
    if args.command == "init":
        return run_init(args, now, prog)
    if args.command == "import":
        from .importers.command import run_import_command
        return run_import_command(args, now, prog)
    site_dir = args.site.resolve()
    if args.command == "build":
        return run_build(args, site_dir, now)
    if args.command == "serve":
        from .serve import serve
        return serve(build_options(args, site_dir, now), host=args.host, port=args.port,
                     open_browser=args.open)
    if args.command == "new":
        from .scaffold import create_post
        path = create_post(site_dir, args.title, args.section, now, slug=args.slug,
                           bundle=args.bundle)
        print(path.relative_to(site_dir).as_posix())
        return EXIT_OK
    if args.command == "check":
        from .check import check_site
        return check_site(site_dir, now, drafts=args.drafts, quiet=args.quiet)
    if args.command == "list":
        from .check import list_held_back
        return list_held_back(site_dir, now, args.which)
    if args.command == "layouts":
        return run_layouts(args, site_dir)
    raise AssertionError(args.command)


def build_options(args: argparse.Namespace, site_dir: Path, now: datetime) -> BuildOptions:
    output_dir = (getattr(args, "output", None) or site_dir / "output").absolute()
    if args.command == "serve":
        return BuildOptions(site_dir=site_dir, output_dir=output_dir, now=now,
                            base_url=args.base_url, drafts=not args.no_drafts, future=True,
                            preview=True)
    return BuildOptions(site_dir=site_dir, output_dir=output_dir, now=now,
                        base_url=args.base_url, drafts=args.drafts, future=args.future,
                        force=args.force, strict=args.strict, no_cache=args.no_cache,
                        search="off" if args.no_search else "index")


def run_init(args: argparse.Namespace, now: datetime, prog: str) -> int:
    from .starter import init_site
    folder = args.folder.absolute()
    settings = SiteSettings(title=args.title, description=args.description,
                            base_url=args.base_url, publisher=args.publisher,
                            timezone=args.timezone)
    written, kept = init_site(folder, settings, now, force=args.force)
    if args.quiet:
        return EXIT_OK
    shown = args.folder.as_posix()
    print(f"made a new site in {shown}/:")
    for path in written:
        print(f"  {path.relative_to(folder).as_posix()}")
    for path in kept:
        print(f"  {path.relative_to(folder).as_posix()} (kept: it was there already)")
    # build.py works only beside the engine's source, so it needs --site; the others
    # work in the new folder.
    by_script = prog.endswith(".py") and prog != "__main__.py"
    command = (f"python {prog}" if by_script else
               prog if prog.startswith("python -m") else "marginalia")
    site = f" --site {shown}" if by_script and shown != "." else ""
    print("next:")
    if shown != "." and not site:
        print(f"  cd {shown}")
    print(f"  {command} serve{site}        preview at http://127.0.0.1:8000/")
    print(f'  {command} new "A Headline" --section Commentary{site}')
    print(f"  {command} build{site}        the site, into output/")
    return EXIT_OK


def run_layouts(args: argparse.Namespace, site_dir: Path) -> int:
    from .starter import copy_default, default_files
    if args.copy:
        for name in args.copy:
            path = copy_default(site_dir, name, force=args.force)
            if not args.quiet:
                print(f"copied {path.relative_to(site_dir).as_posix()}: "
                      "the site's copy now takes the default's place")
        return EXIT_OK
    for folder, names in default_files().items():
        print(f"{folder}/ (a file of the same name in the site's {folder}/ takes precedence)")
        for name in names:
            own = " (the site's own)" if (site_dir / folder / name).is_file() else ""
            print(f"  {name}{own}")
    return EXIT_OK


def run_build(args: argparse.Namespace, site_dir: Path, now: datetime) -> int:
    options = build_options(args, site_dir, now)
    try:
        with progress_display(enabled=not args.quiet and sys.stderr.isatty()) as progress:
            result = build_site(options, progress)
    except BuildError as error:
        if args.report:
            from .report import build_report, write_report
            write_report(args.report, build_report(None, error, now, exit_code_for(error)))
        raise
    if args.report:
        from .report import build_report, write_report
        write_report(args.report, build_report(result, None, now, EXIT_OK))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.verbose:
        for label, paths in (("added", result.written.added),
                             ("changed", result.written.changed),
                             ("removed", result.written.removed)):
            for path in paths:
                print(f"{label}: {path}")
        print(f"{counted(result.counts['reused'], 'file')} reused without rendering")
        for note in result.notes:
            print(note)
    if not args.quiet:
        written = result.written
        sections = ", ".join(f"{s.name} {len(s.posts)}" for s in result.site.sections)
        print(f"built {counted(result.counts['posts'], 'post')} ({sections}): "
              f"{counted(result.counts['pages'], 'page')}, "
              f"{counted(result.counts['feeds'], 'feed')}; "
              f"{counted(len(written.added), 'file')} added, "
              f"{len(written.changed)} changed, {len(written.removed)} removed; "
              f"{counted(result.counts['cached'], 'source')} from cache, "
              f"in {result.seconds:.2f} s -> {options.output_dir}")
        if result.search.describe():
            print(result.search.describe())
    return EXIT_OK


def counted(number: int, noun: str) -> str:
    """Return '1 post' or '3 posts'."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@contextmanager
def progress_display(enabled: bool) -> Iterator[Progress | None]:
    """Show a progress bar on a terminal for builds with many posts; nothing in CI."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn
    with Bar(TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
             transient=True, console=Console(stderr=True)) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if total < PROGRESS_THRESHOLD:
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        yield update


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def read_now(text: str | None) -> datetime:
    """Return the build's clock: --now when given, else the current time."""
    if text is None:
        return datetime.now(timezone.utc)
    moment = parse_date(text.replace("z", "Z"), timezone.utc)
    if moment is None:
        raise ValueError(f"--now '{text}' is not a date such as 2026-01-01T09:00:00Z")
    return moment


def report_errors(error: BuildError) -> int:
    """Print every problem as 'path:line: message', numbered when there are several."""
    errors = error.errors if isinstance(error, BuildErrors) else (error,)
    for number, problem in enumerate(errors, start=1):
        prefix = f"{number}. " if len(errors) > 1 else ""
        print(f"{prefix}{problem}", file=sys.stderr)
    print(f"{counted(len(errors), 'problem')}; nothing was written", file=sys.stderr)
    return exit_code_for(error)


def exit_code_for(error: BuildError) -> int:
    return EXIT_USAGE if error.exit_code == EXIT_USAGE else EXIT_CONTENT
