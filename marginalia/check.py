"""Validate a site without writing it, and list the posts a build holds back."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from .assemble import hold_reason
from .errors import BuildError, raise_if_any
from .links import check_menu_links
from .images import plan_images
from .pipeline import (URLS_PREFIX, BuildOptions, load_site, moved_url_warnings,
                       published_urls, render_files, site_warnings)
from .store import Store

# The words of 'list drafts|future|expired', and the hold reasons they stand for.
LIST_REASONS = {"drafts": "draft", "future": "future", "expired": "expired"}


def check_site(site_dir: Path, now: datetime, drafts: bool = False, quiet: bool = False) -> int:
    """Run every check of a build, links included; what a build warns of (broken
    links, links made inert, markup removed) is an error here, as with --strict.
    Drafts are checked, and their problems errors, only with drafts."""
    options = BuildOptions(site_dir=site_dir, output_dir=site_dir / "output", now=now,
                           drafts=drafts)
    # Reads the saved state to skip parsing unchanged files; never writes it.
    state = Store(site_dir)
    try:
        loaded = load_site(options, state, lenient=True)
        problems = list(loaded.problems)
        problems += moved_url_warnings(loaded.site, published_urls(loaded.site, now),
                                       state.blob(URLS_PREFIX + str(options.output_dir)))
        try:
            plan_images(loaded.site, site_dir)  # reads each picture's header, makes nothing
            files = render_files(loaded.site, options)
        except BuildError as error:
            raise_if_any([*problems, error])
    finally:
        state.close()
    problems += check_menu_links(loaded.site.config, files)
    problems += site_warnings(loaded.site, files, loaded.texts)
    raise_if_any(problems)
    for warning in loaded.draft_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not quiet:
        print(f"checked {len(loaded.site.posts)} posts and {len(loaded.site.pages)} pages: "
              "no problems")
    return 0


def list_held_back(site_dir: Path, now: datetime, which: str) -> int:
    """Print the drafts, future or expired posts, oldest first, with their dates."""
    options = BuildOptions(site_dir=site_dir, output_dir=site_dir / "output", now=now)
    state = Store(site_dir)
    try:
        site = load_site(options, state).site
    finally:
        state.close()
    reason = LIST_REASONS[which]
    chosen = sorted((p for p in site.held_back if hold_reason(p, now) == reason),
                    key=lambda p: (p.date, p.rel_path))
    for post in chosen:
        moment = post.expires if which == "expired" else post.date
        assert moment is not None
        print(f"{moment.astimezone(site.config.tz).isoformat()}  {post.rel_path}  "
              f"{post.title}")
    if not chosen:
        print(f"no {which} posts", file=sys.stderr)
    return 0
