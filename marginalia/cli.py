"""The command line: parse arguments, run a command, map user errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from .errors import BuildError, BuildErrors
from .frontmatter import parse_date
from .pipeline import BuildOptions, build_site

EXIT_OK, EXIT_CONTENT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Build a commentary blog into static HTML and feeds.")
    parser.add_argument("--site", type=Path, default=Path("."),
                        help="the site's root folder, holding site.toml (default: .)")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the site (default: SITE/output)")
    parser.add_argument("--base-url", default=None,
                        help="override base_url, for previews on another host")
    parser.add_argument("--drafts", action="store_true", help="include draft posts")
    parser.add_argument("--future", action="store_true", help="include future-dated posts")
    parser.add_argument("--now", default=None,
                        help="the time to judge future posts by, such as 2026-01-01T09:00:00Z")
    parser.add_argument("--force", action="store_true",
                        help="replace an output folder this tool did not make")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        now = read_now(args.now)
    except ValueError as exc:
        parser.error(str(exc))
    site_dir = args.site.resolve()
    output_dir = (args.output or site_dir / "output").absolute()
    options = BuildOptions(site_dir=site_dir, output_dir=output_dir, now=now,
                           base_url=args.base_url, drafts=args.drafts, future=args.future,
                           force=args.force)
    try:
        result = build_site(options)
    except BuildError as error:
        return report_errors(error)
    except KeyboardInterrupt:
        print("interrupted; the previous output is untouched", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"built {result.counts['posts']} posts: {result.counts['pages']} pages, "
              f"{result.counts['feeds']} feeds, {len(result.changed)} files changed, "
              f"in {result.seconds:.2f} s -> {output_dir}")
    return EXIT_OK


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
    if len(errors) > 1:
        print(f"{len(errors)} problems; nothing was written", file=sys.stderr)
    else:
        print("nothing was written", file=sys.stderr)
    return EXIT_USAGE if error.exit_code == EXIT_USAGE else EXIT_CONTENT
