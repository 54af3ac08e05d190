"""Split a content file into its YAML front matter and body, and check the fields."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date as date_type, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from .errors import BuildError, ContentError, did_you_mean
from .model import Source
from .urls import (is_absolute_http, is_valid_slug, slug_from_name, slug_length_problem,
                   slug_source, slugify)

MAX_FRONT_MATTER_CHARS = 64 * 1024
FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
# Control characters, surrogates and noncharacters: invalid in XML, invisible in HTML.
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
                      "\ufdd0-\ufdef\ufffe\uffff]")

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FLOW_BRACKETS = {"flow sequence": ("[", "]", "list"), "flow mapping": ("{", "}", "mapping")}


class ContentLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, with dates left as text so we can check them ourselves."""


ContentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class FrontMatter:
    data: dict[str, Any]
    key_lines: dict[str, int]  # the file line of each top-level key
    body: str
    body_line: int  # the file line where the body starts
    first_line: int  # the file line of the opening fence


def split_front_matter(text: str, rel_path: str) -> FrontMatter:
    """Cut '---' front matter off the top of a file and load it as a YAML mapping."""
    if not text.startswith("---") or not FENCE.match(text):
        raise ContentError("no front matter: start the file with a '---' line, then "
                           "title, section and date, then another '---' line", rel_path, 1)
    closing = FENCE.search(text, text.index("\n") + 1 if "\n" in text else len(text))
    if closing is None:
        raise ContentError("front matter is never closed: add a '---' line after the "
                           "last field", rel_path, 1)
    yaml_text = text[text.index("\n") + 1:closing.start()]
    if len(yaml_text) > MAX_FRONT_MATTER_CHARS:
        raise ContentError(f"front matter is over {MAX_FRONT_MATTER_CHARS // 1024} KiB; "
                           "move long text into the body", rel_path, 2)
    body_start = closing.end() + 1
    body_line = text.count("\n", 0, body_start) + 1
    data, key_lines = load_mapping(yaml_text, rel_path, first_line=2)
    return FrontMatter(data, key_lines, text[body_start:], body_line, 1)


def load_mapping(yaml_text: str, rel_path: str, first_line: int) -> tuple[dict, dict]:
    """Load YAML that must be a mapping, with file lines for each key."""
    loader = ContentLoader(yaml_text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}
        _reject_aliases_and_duplicates(node, rel_path, first_line)
        if not isinstance(node, yaml.MappingNode):
            raise ContentError("front matter must be 'key: value' lines, "
                               "not a single value or a list", rel_path, first_line)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        unclosed = _find_unclosed(exc, yaml_text, first_line)
        if unclosed is not None:
            message, opened = unclosed
            raise ContentError(f"YAML: {message}", rel_path, first_line + opened.line,
                               opened.column + 1) from None
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line if mark else first_line
        column = mark.column + 1 if mark else None
        problem = exc.problem or "malformed YAML"
        hint = _yaml_hint(problem)
        if mark and "\t" in _line_at(yaml_text, mark.line)[:mark.column + 1]:
            hint = "; indent with spaces, not tabs"
        raise ContentError(f"YAML: {problem}{hint}", rel_path, line, column) from None
    except yaml.YAMLError as exc:
        raise ContentError(f"YAML: {exc}", rel_path, first_line) from None
    finally:
        loader.dispose()
    key_lines = {}
    for key_node, _ in node.value:
        key_lines.setdefault(str(key_node.value), first_line + key_node.start_mark.line)
    return data, key_lines


def _find_unclosed(exc: yaml.MarkedYAMLError, yaml_text: str,
                   first_line: int) -> tuple[str, yaml.Mark] | None:
    """Find a quote or bracket left open, with the mark where it was opened.

    YAML reads on past an unclosed quote or '[' and fails where the text runs
    out or stops making sense, lines below the editor's mistake.
    """
    context, opened, stopped = exc.context or "", exc.context_mark, exc.problem_mark
    if stopped is None:
        return None
    stopped_line = first_line + stopped.line
    if opened is not None and opened.line < stopped.line:
        if "quoted scalar" in context and "unexpected" in (exc.problem or ""):
            quote = _line_at(yaml_text, opened.line)[opened.column:opened.column + 1]
            return (f"the quote {quote} opened here is never closed; end the value with "
                    f"{quote}", opened)
        for kind, (opener, closer, noun) in FLOW_BRACKETS.items():
            if kind in context:
                return (f"the '{opener}' opened here is never closed (YAML read on to line "
                        f"{stopped_line}); end the {noun} with '{closer}'", opened)
    runaway = _quoted_value_ending_at(yaml_text, stopped)
    if runaway is not None:
        return (f"the value quoted with {runaway.style} here runs on to line "
                f"{stopped_line}; end it with {runaway.style} on this line", runaway.start_mark)
    return None


def _quoted_value_ending_at(yaml_text: str, stopped: yaml.Mark) -> yaml.ScalarToken | None:
    """Return the quoted value spanning several lines that ends on the line where YAML
    stopped, before the spot: the likely sign of a missing closing quote."""
    found = None
    try:
        for token in yaml.scan(yaml_text, Loader=ContentLoader):
            end = token.end_mark
            if (end.line, end.column) > (stopped.line, stopped.column):
                break
            if (isinstance(token, yaml.ScalarToken) and token.style in ('"', "'")
                    and token.start_mark.line < end.line == stopped.line):
                found = token
    except yaml.YAMLError:
        pass
    return found


def _line_at(text: str, index: int) -> str:
    lines = text.split("\n")
    return lines[index] if 0 <= index < len(lines) else ""


def _yaml_hint(problem: str) -> str:
    if "could not determine a constructor" in problem:
        return "; tags such as !!python/object are not allowed in front matter"
    if "mapping values are not allowed" in problem:
        return "; put a value holding ': ' in quotes, and check the indentation"
    if "found character '\\t'" in problem:
        return "; indent with spaces, not tabs"
    return "; check the indentation and quotes on this line"


def _reject_aliases_and_duplicates(root: yaml.Node, rel_path: str, first_line: int) -> None:
    """Refuse YAML aliases (the composer shares the node) and repeated keys."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            raise ContentError("YAML anchors and aliases (& and *) are not allowed in "
                               "front matter; write the value out", rel_path,
                               first_line + node.start_mark.line)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in keys:
                    raise ContentError(f"key '{key}' appears twice; keep one",
                                       rel_path, first_line + key_node.start_mark.line)
                keys.add(key)
                pending.extend((key_node, value_node))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)


class FieldChecker:
    """Checks front matter values, collecting every problem with its file line."""

    def __init__(self, matter: FrontMatter, rel_path: str):
        self.data = matter.data
        self.lines = matter.key_lines
        self.rel_path = rel_path
        self.default_line = matter.first_line
        self.errors: list[BuildError] = []

    def fail(self, key: str, message: str) -> None:
        self.errors.append(ContentError(message, self.rel_path,
                                        self.lines.get(key, self.default_line)))

    def reject_unknown(self, known: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in known:
                self.fail(str(key), f"unknown field '{key}'{did_you_mean(str(key), known)}; "
                          "put custom fields under 'extra:'")

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, f"missing required field '{key}'")
            return default
        if not isinstance(value, str):
            self.fail(key, f"'{key}' must be text, but YAML read {_describe(value)}"
                      f"{_quote_hint(key, value)}")
            return default
        if _has_control_characters(value):
            self.fail(key, f"'{key}' holds a control character; remove it")
            return default
        value = value.strip()
        if required and not value:
            self.fail(key, f"'{key}' is empty")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"'{key}' must be true or false, not {_describe(value)}"
                      " (write it without quotes)")
            return default
        return value

    def date(self, key: str, tz: ZoneInfo, required: bool = False) -> datetime | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, f"missing required field '{key}' (such as "
                          f"{key}: 2024-12-01T09:30:00-05:00)")
            return None
        parsed = parse_date(value, tz)
        if parsed is None:
            self.fail(key, f"{key} '{value}' is not a date (use 2024-12-01 or "
                      "2024-12-01T09:30:00-05:00)")
        return parsed

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            example = ", ".join(p.strip() for p in str(value).split(",")) or "one, two"
            self.fail(key, f"'{key}' must be a list, such as {key}: [{example}]")
            return ()
        items = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                self.fail(key, f"'{key}' holds {_describe(item)}; each entry must be "
                          "non-empty text (quote numbers and yes/no)")
            elif _has_control_characters(item):
                self.fail(key, f"'{key}' entry holds a control character; remove it")
            else:
                items.append(item.strip())
        return tuple(dict.fromkeys(items))

    def sources(self, key: str = "sources") -> tuple[Source, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(key, f"'{key}' must be a list of entries with name and url")
            return ()
        sources = []
        for index, item in enumerate(value, start=1):
            where = f"{key} entry {index}"
            if not isinstance(item, dict):
                self.fail(key, f"{where} must have 'name:' and 'url:' lines")
                continue
            unknown = sorted(set(map(str, item)) - {"name", "url"})
            if unknown:
                self.fail(key, f"{where}: unknown field '{unknown[0]}'"
                          f"{did_you_mean(unknown[0], ('name', 'url'))}")
            name, url = item.get("name"), item.get("url")
            if not isinstance(name, str) or not name.strip():
                self.fail(key, f"{where} needs a 'name' as text")
                continue
            if not isinstance(url, str) or not is_absolute_http(url.strip()):
                self.fail(key, f"{where} ('{name}'): url must be an http or https "
                          f"address such as https://example.com/, not {_describe(url)}")
                continue
            sources.append(Source(name.strip(), url.strip()))
        return tuple(sources)

    def http_url(self, key: str) -> str:
        """An optional absolute http(s) URL, such as a linked post's article; else ""."""
        value = self.data.get(key)
        if value is None:
            return ""
        url = value.strip() if isinstance(value, str) else ""
        if not is_absolute_http(url) or any(c.isspace() for c in url) or NOT_TEXT.search(url):
            self.fail(key, f"'{key}' must be an http or https address such as "
                      f"https://example.com/story, not {_describe(value)}")
            return ""
        return url

    def slug(self) -> str:
        """The slug given by hand, else the one made from the file's (or bundle's) name."""
        value = self.data.get("slug")
        if value is None:
            name = slug_source(self.rel_path)
            slug = slug_from_name(name)
            if not slug:
                self.fail("slug", f"the name '{name}' gives an empty slug: it has no letters "
                          "or digits after any leading date; rename the file or add "
                          "'slug: some-words'")
            return slug
        if not isinstance(value, str) or not is_valid_slug(value):
            self.fail("slug", f"slug {_describe(value)} may hold only lowercase letters, "
                      f"digits and single hyphens (such as "
                      f"'{slugify(str(value)) or 'my-post'}')")
            return slugify(str(value))
        too_long = slug_length_problem(value)
        if too_long:
            self.fail("slug", too_long)
            return slugify(value)
        return value

    def mapping(self, key: str) -> dict:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, f"'{key}' must be a mapping of 'name: value' lines")
            return {}
        return value

    def number(self, key: str, default: int) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(key, f"'{key}' must be a whole number, not {_describe(value)}")
            return default
        return value


def parse_date(value: Any, tz: ZoneInfo) -> datetime | None:
    """Read an ISO 8601 date or date-time; a naive one is taken in the site's timezone."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date_type):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?", text):
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _has_control_characters(text: str) -> bool:
    return bool(NOT_TEXT.search(text))


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"'{value}'"


def _quote_hint(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return (f" (YAML reads yes, no, on, off, true and false as true/false: "
                f"write {key}: \"...\" in quotes)")
    if isinstance(value, (int, float)):
        return f" (put it in quotes: {key}: \"{value}\")"
    if isinstance(value, dict):
        return f" (a ': ' inside a value starts a mapping: put the whole {key} in quotes)"
    return ""
