"""Python-Markdown's inline stage, trying each pattern only on text it can match.

Python-Markdown tries every inline pattern (eighteen with the default extensions) on
every run of text, a Python call and a regex search each: a third of the time a post
took to parse. Most patterns cannot match without some piece of text: a code span
needs a backtick, a link a '[', a bare link "://" or "www.". When the text lacks it,
the regex finds nothing and Python-Markdown changes nothing, so leaving the pattern
out is exact. The pieces are read from each pattern's own regex, third-party
patterns included; a regex that cannot be read so is always tried.
"""

from __future__ import annotations

import inspect
import re
from functools import cache
from typing import Any, NamedTuple

try:
    from re import _parser as regex_parser  # type: ignore[attr-defined]
except ImportError:  # moved again: every pattern is then always tried
    regex_parser = None


class Piece(NamedTuple):
    """Text that a match holds; with caseless, its letters in either case."""

    text: str  # lowercase when caseless
    caseless: bool = False


Need = frozenset[Piece]  # a match holds one of these pieces
# A need as the check takes it: each piece's text, and for a caseless one a search.
Check = tuple[tuple[str, Any], ...]

MOST_PIECES = 8  # a need with more is not worth looking for
# The private methods the faster loop stands in for or calls (name-mangled), with
# the parameters it knows them by.
STOCK_METHODS = {
    "_InlineProcessor__handleInline": ("self", "data", "patternIndex"),
    "_InlineProcessor__applyPattern": ("self", "pattern", "data", "patternIndex",
                                       "startIndex"),
}
APPLY_PATTERN = "_InlineProcessor__applyPattern"

_checks: dict[Any, tuple[Check, ...]] = {}  # by compiled regex


def try_patterns_only_where_they_can_match(md: Any) -> None:
    """Give a markdown.Markdown converter the faster inline stage, unless its own is
    not Python-Markdown's stock one or that has changed beyond recognition."""
    from markdown.treeprocessors import InlineProcessor

    priority = next((item.priority for item in getattr(md.treeprocessors, "_priority", ())
                     if item.name == "inline"), None)
    if (priority is None or type(md.treeprocessors["inline"]) is not InlineProcessor
            or not _has_stock_methods(InlineProcessor)):
        return
    md.treeprocessors.register(_inline_processor_class()(md), "inline", priority)
    for pattern in md.inlinePatterns:  # read now, before any worker is forked
        checks_for(pattern)


def _has_stock_methods(processor: type) -> bool:
    try:
        return all(tuple(inspect.signature(getattr(processor, name)).parameters) == known
                   for name, known in STOCK_METHODS.items())
    except (AttributeError, TypeError, ValueError):
        return False


@cache
def _inline_processor_class() -> type:
    from markdown.treeprocessors import InlineProcessor
    from markdown.util import AtomicString

    class SelectiveInlineProcessor(InlineProcessor):
        def run(self, tree: Any, ancestors: list[str] | None = None) -> Any:
            self.checked_patterns = [(pattern, checks_for(pattern))
                                     for pattern in self.inlinePatterns]
            return super().run(tree, ancestors)

        def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:
            """The stock loop, leaving out each pattern the text cannot match."""
            if isinstance(data, AtomicString):
                return data
            apply_pattern = getattr(self, APPLY_PATTERN)
            patterns = self.checked_patterns
            start = 0
            while patternIndex < len(patterns):
                pattern, checks = patterns[patternIndex]
                # After a match the same pattern is tried again on the rest.
                if start == 0 and not holds(data, checks):
                    patternIndex += 1
                    continue
                data, matched, start = apply_pattern(pattern, data, patternIndex, start)
                if not matched:
                    patternIndex += 1
            return data

    return SelectiveInlineProcessor


def checks_for(pattern: Any) -> tuple[Check, ...]:
    """The checks text must pass for the pattern's regex to match, made once a regex."""
    try:
        regex = pattern.getCompiledRegExp()
        if regex not in _checks:
            _checks[regex] = tuple(dict.fromkeys(map(_check, needed_pieces(regex))))
        return _checks[regex]
    except Exception:  # no regex, or not one to keep: always try the pattern
        return ()


def holds(text: str, checks: tuple[Check, ...]) -> bool:
    """Whether text holds a piece of each need. 'in' is much quicker than a regex; for
    a caseless piece it is exact too when text is ASCII, where a letter matches no
    other letter than its two cases (beyond ASCII, 'K' matches the Kelvin sign)."""
    lowered = None
    for check in checks:
        for piece, caseless_search in check:
            if caseless_search is None:
                if piece in text:
                    break
            elif text.isascii():
                lowered = text.lower() if lowered is None else lowered
                if piece in lowered:
                    break
            elif caseless_search(text):
                break
        else:
            return False
    return True


def _check(need: Need) -> Check:
    return tuple((piece.text, re.compile(re.escape(piece.text), re.IGNORECASE).search
                  if piece.caseless else None) for piece in sorted(need))


def needed_pieces(regex: Any) -> list[Need]:
    """What any text the regex matches holds (what its lookarounds see included): a
    piece of each need. An empty list when that cannot be told."""
    if regex_parser is None or not isinstance(regex, re.Pattern) or not isinstance(
            regex.pattern, str):
        return []
    try:
        return _sequence_needs(regex_parser.parse(regex.pattern, regex.flags), regex.flags)
    except Exception:  # a regex form this reading does not know: always tried
        return []


def _sequence_needs(sequence: Any, flags: int) -> list[Need]:
    """What a sequence of regex items needs: each run of literal characters in it (a
    character repeated at least n times counts n times), and what the other items need."""
    needs: list[Need] = []
    run: list[str] = []
    caseless = False
    for op, argument in sequence:
        literal, times = _repeated_literal(op, argument)
        piece = _piece(literal, flags) if literal is not None else None
        if piece is not None and times:
            run += [piece.text] * times
            caseless = caseless or piece.caseless
            continue
        if run:
            needs.append(frozenset({Piece("".join(run), caseless)}))
            run, caseless = [], False
        needs += _item_needs(op, argument, flags)
    if run:
        needs.append(frozenset({Piece("".join(run), caseless)}))
    return needs


def _repeated_literal(op: Any, argument: Any) -> tuple[int | None, int]:
    """A literal character and how many times a match holds it in a row at least."""
    if op is regex_parser.LITERAL:
        return argument, 1
    if op in _repeats():
        least, _, inner = argument
        if len(inner) == 1 and inner[0][0] is regex_parser.LITERAL:
            return inner[0][1], least
    return None, 0


def _item_needs(op: Any, argument: Any, flags: int) -> list[Need]:
    parser = regex_parser
    if op is parser.IN:
        return _class_needs(argument, flags)
    if op is parser.SUBPATTERN:
        _, add_flags, del_flags, inner = argument
        return _sequence_needs(inner, (flags | add_flags) & ~del_flags)
    if op in _repeats():
        least, _, inner = argument
        return _sequence_needs(inner, flags) if least >= 1 else []
    if op is getattr(parser, "ATOMIC_GROUP", None):
        return _sequence_needs(argument, flags)
    if op is parser.ASSERT:  # what a lookahead or lookbehind sees is in the text too
        return _sequence_needs(argument[1], flags)
    if op is parser.BRANCH:
        return _branch_needs([_sequence_needs(branch, flags) for branch in argument[1]])
    return []  # matches no character, any character, or too many kinds to look for


@cache
def _repeats() -> tuple[Any, ...]:
    parser = regex_parser
    return tuple(getattr(parser, name) for name in (
        "MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(parser, name))


def _branch_needs(branches: list[list[Need]]) -> list[Need]:
    """What alternatives need: what every one of them needs, else the best need of
    each of them taken together."""
    if not all(branches):
        return []
    shared = [need for need in branches[0] if all(need in other for other in branches[1:])]
    if shared:
        return shared
    either = frozenset().union(*(max(needs, key=_selectivity) for needs in branches))
    return [either] if len(either) <= MOST_PIECES else []


def _selectivity(need: Need) -> tuple[int, int]:
    """Longer pieces are rarer in text, and so are fewer of them."""
    return min(len(piece.text) for piece in need), -len(need)


def _class_needs(items: list[tuple[Any, Any]], flags: int) -> list[Need]:
    """A class such as [?!] needs one of its characters, if it lists a few."""
    codes: list[int] = []
    for op, argument in items:
        if op is regex_parser.LITERAL:
            codes.append(argument)
        elif op is regex_parser.RANGE and argument[1] - argument[0] < MOST_PIECES:
            codes += range(argument[0], argument[1] + 1)
        else:  # negated, or a category such as \s: too many to look for
            return []
    pieces = [_piece(code, flags) for code in codes]
    if None in pieces or len(set(pieces)) > MOST_PIECES:
        return []
    return [frozenset(pieces)]  # type: ignore[arg-type]


def _piece(code: int, flags: int) -> Piece | None:
    """A literal character as a piece; None beyond ASCII when case is ignored, where
    a letter may match more than its two cases."""
    char = chr(code)
    if not flags & re.IGNORECASE or (char.isascii() and not char.isalpha()):
        return Piece(char)
    return Piece(char.lower(), caseless=True) if char.isascii() else None
