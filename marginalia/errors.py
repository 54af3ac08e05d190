"""The error tree: user mistakes are BuildErrors; anything else is a bug."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BuildError(Exception):
    """A problem in the site's input that the editor can fix."""

    exit_code = 1

    def __init__(self, message: str, path: str | None = None,
                 line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def __reduce__(self):
        return (type(self), (self.message, self.path, self.line, self.column))

    def location(self) -> str:
        """Return 'path:line:col' as far as it is known."""
        parts = [self.path or "<site>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}"


class ConfigError(BuildError):
    """site.toml is missing, malformed or holds a wrong value."""

    exit_code = 2


class ContentError(BuildError):
    """A post or page cannot be read, parsed or checked."""


class TemplateError(BuildError):
    """A layout fails to compile or to render."""


class OutputError(BuildError):
    """The output folder cannot be safely replaced."""


class OutputCollisionError(BuildError):
    """Two sources claim the same output path."""


class BuildErrors(BuildError):
    """Every problem found in one run, reported together."""

    def __init__(self, errors: Iterable[BuildError]):
        flat = [e for error in errors
                for e in (error.errors if isinstance(error, BuildErrors) else (error,))]
        # One broken layout fails every page that uses it: report it once.
        unique = {(type(e), _error_sort_key(e)): e for e in flat}
        self.errors = tuple(sorted(unique.values(), key=_error_sort_key))
        super().__init__(f"{len(self.errors)} problem(s)")
        self.exit_code = max((e.exit_code for e in self.errors), default=1)

    def __reduce__(self):
        return (type(self), (self.errors,))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class DraftProblems(BuildErrors):
    """The problems of a post marked as a draft: they stop only a build that
    includes drafts; any other build leaves the post out and warns of them."""

    def as_warnings(self) -> list[BuildError]:
        return [ContentError(f"{e.message} (in a draft: this stops only a build with "
                             "--drafts)", e.path, e.line, e.column) for e in self.errors]


def _error_sort_key(error: BuildError) -> tuple:
    return (error.path or "", error.line or 0, error.column or 0, error.message)


def raise_if_any(errors: list[BuildError]) -> None:
    """Raise one BuildErrors holding every collected problem, if there are any."""
    problems = BuildErrors(errors)
    if problems.errors:
        raise problems


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean "x"?)' for the closest choice, or ''."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{matches[0]}"?)' if matches else ""
