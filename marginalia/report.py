"""A machine-readable account of a build, for CI to read or comment with."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from .assemble import hold_reason
from .check import LIST_REASONS
from .errors import BuildError, BuildErrors
from .pipeline import BuildResult


def build_report(result: BuildResult | None, error: BuildError | None, now: datetime,
                 exit_code: int) -> dict[str, Any]:
    """Describe a finished or failed build as plain JSON-ready data."""
    report: dict[str, Any] = {"ok": error is None, "exit_code": exit_code,
                              "errors": describe_errors(error)}
    if result is None:
        return report
    site = result.site
    held_back: dict[str, list] = {name: [] for name in LIST_REASONS}
    names = {reason: name for name, reason in LIST_REASONS.items()}
    for post in site.held_back:
        held_back[names[hold_reason(post, now)]].append(
            {"path": post.rel_path, "title": post.title, "date": post.date.isoformat()})
    report.update({
        "seconds": round(result.seconds, 3),
        "pages": result.counts["pages"],
        "feeds": result.counts["feeds"],
        "posts": result.counts["posts"],
        "sources_from_cache": result.counts["cached"],
        "posts_by_section": {s.name: len(s.posts) for s in site.sections},
        "warnings": describe_errors(BuildErrors(result.warnings) if result.warnings else None),
        "held_back": held_back,
        "search": {"index": result.search.action, "pages": result.search.pages,
                   "seconds": round(result.search.seconds, 3)},
        "changes": {"added": list(result.written.added),
                    "changed": list(result.written.changed),
                    "removed": list(result.written.removed)},
    })
    return report


def describe_errors(error: BuildError | None) -> list[dict[str, Any]]:
    if error is None:
        return []
    errors = error.errors if isinstance(error, BuildErrors) else (error,)
    return [{"path": e.path, "line": e.line, "column": e.column, "message": e.message}
            for e in errors]


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
