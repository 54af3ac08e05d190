"""Read and check site.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import BuildError, ConfigError, did_you_mean, raise_if_any
from .model import CommentsConfig, Config, FeedConfig, Link, SectionConfig
from .urls import slugify

CONFIG_NAME = "site.toml"
COMMENT_PROVIDERS = ("none", "giscus", "disqus", "utterances")
DEFAULT_EXTENSIONS = ("smarty", "footnotes", "tables", "fenced_code", "attr_list")

# key -> (type or types, default); a default of REQUIRED makes the key required.
REQUIRED = object()
TOP_LEVEL = {
    "title": (str, REQUIRED),
    "description": (str, ""),
    "base_url": (str, REQUIRED),
    "language": (str, "en"),
    "timezone": (str, "UTC"),
    "publisher": (str, REQUIRED),
    "copyright_start_year": (int, None),
    "author": (str, ""),
    "posts_per_page": (int, 10),
    "permalink": (str, "/{year}/{month}/{day}/{slug}/"),
    "footer_links": (list, []),
    "sections": (list, REQUIRED),
    "comments": (dict, {}),
    "feed": (dict, {}),
    "markdown": (dict, {}),
    "unsafe_html": (bool, False),
    "iframe_hosts": (list, []),
    "extra": (dict, {}),
}
SECTION_KEYS = {"name": (str, REQUIRED), "slug": (str, None), "description": (str, "")}
LINK_KEYS = {"label": (str, REQUIRED), "url": (str, REQUIRED)}
COMMENTS_KEYS = {"provider": (str, "none"), "enabled": (bool, True),
                 "giscus": (dict, {}), "disqus": (dict, {}), "utterances": (dict, {})}
PROVIDER_KEYS = {
    "giscus": {"repo": (str, REQUIRED), "repo_id": (str, REQUIRED),
               "category": (str, REQUIRED), "category_id": (str, REQUIRED),
               "mapping": (str, "pathname"), "theme": (str, "preferred_color_scheme"),
               "reactions": (bool, True)},
    "disqus": {"shortname": (str, REQUIRED)},
    "utterances": {"repo": (str, REQUIRED), "issue_term": (str, "pathname"),
                   "label": (str, ""), "theme": (str, "preferred-color-scheme")},
}
FEED_KEYS = {"items": (int, 20), "full_content": (bool, True)}
MARKDOWN_KEYS = {"extensions": (list, list(DEFAULT_EXTENSIONS))}
PERMALINK_FIELDS = ("year", "month", "day", "slug", "section")
TYPE_NAMES = {str: "text", int: "a whole number", bool: "true or false",
              list: "a list", dict: "a table"}


def load_config(site_dir: Path, base_url: str | None = None) -> Config:
    """Read site_dir/site.toml and return a checked Config; base_url, when given,
    stands in for the file's (--base-url, for previews elsewhere)."""
    config = _read_config(site_dir)
    if base_url:
        config = replace(config, base_url=base_url.rstrip("/") + "/")
    return config


def _read_config(site_dir: Path) -> Config:
    path = site_dir / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"no {CONFIG_NAME} here (is --site pointing at the site's root?)",
                          CONFIG_NAME) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid UTF-8 at byte {exc.start}", CONFIG_NAME) from None
    return parse_config(text, site_dir)


def parse_config(text: str, site_dir: Path) -> Config:
    """Parse the text of site.toml into a Config, listing every problem at once."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc) from None
    checker = _Checker(text)
    top = checker.table(raw, TOP_LEVEL, "")
    comments = checker.table(top["comments"], COMMENTS_KEYS, "comments")
    feed = checker.table(top["feed"], FEED_KEYS, "feed")
    markdown = checker.table(top["markdown"], MARKDOWN_KEYS, "markdown")
    config = Config(
        site_dir=site_dir,
        title=top["title"] or "",
        description=top["description"],
        base_url=checker.base_url(top["base_url"]),
        language=top["language"],
        timezone=checker.timezone(top["timezone"]),
        publisher=top["publisher"] or "",
        copyright_start_year=top["copyright_start_year"] or 0,
        posts_per_page=checker.positive(top["posts_per_page"], "posts_per_page"),
        permalink=checker.permalink(top["permalink"]),
        footer_links=checker.links(top["footer_links"]),
        sections=checker.sections(top["sections"]),
        comments=checker.comments(comments),
        feed=FeedConfig(items=checker.positive(feed["items"], "feed.items"),
                        full_content=feed["full_content"]),
        markdown_extensions=checker.extensions(markdown["extensions"]),
        author=top["author"],
        unsafe_html=top["unsafe_html"],
        iframe_hosts=checker.hosts(top["iframe_hosts"]),
        extra=top["extra"],
    )
    raise_if_any(checker.errors)
    return config


def _toml_error(exc: tomllib.TOMLDecodeError) -> ConfigError:
    match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    message = re.sub(r"\s*\(at line.*\)$", "", str(exc)) or "malformed TOML"
    line, column = (int(match[1]), int(match[2])) if match else (None, None)
    return ConfigError(f"{message} (check quotes, brackets and '=' on this line)",
                       CONFIG_NAME, line, column)


class _Checker:
    """Collects config problems instead of stopping at the first."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.errors: list[BuildError] = []

    def fail(self, key: str, message: str) -> None:
        self.errors.append(ConfigError(message, CONFIG_NAME, self.line_of(key)))

    def line_of(self, dotted_key: str) -> int | None:
        """Find the line where a key is set; a best guess for messages."""
        leaf = dotted_key.rsplit(".", 1)[-1].split("[", 1)[0]
        if not leaf:
            return None
        pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(leaf)}[\"']?\s*(=|\.|\]|$)")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return None

    def table(self, raw: Any, schema: dict, prefix: str) -> dict[str, Any]:
        """Check a table's keys and types against schema; fill in defaults."""
        where = prefix or "site.toml"
        if not isinstance(raw, dict):
            self.fail(prefix, f"{where} must be a table")
            raw = {}
        result: dict[str, Any] = {}
        for key in sorted(set(raw) - set(schema)):
            dotted = f"{prefix}.{key}" if prefix else key
            self.fail(dotted, f"unknown key '{dotted}'{did_you_mean(key, schema)}"
                      f"; known keys: {', '.join(schema)}")
        for key, (kind, default) in schema.items():
            dotted = f"{prefix}.{key}" if prefix else key
            if key not in raw:
                if default is REQUIRED:
                    self.fail(prefix, f"missing required key '{dotted}'")
                    result[key] = None
                else:
                    result[key] = default
                continue
            value = raw[key]
            if not _has_type(value, kind):
                self.fail(dotted, f"'{dotted}' must be {TYPE_NAMES[kind]}, "
                          f"not {_describe(value)}")
                value = None if default is REQUIRED else default
            result[key] = value
        return result

    def base_url(self, value: str | None) -> str:
        if value is None:
            return "http://localhost/"
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            self.fail("base_url", f"base_url '{value}' must be an absolute http(s) URL, "
                      "such as https://example.org/ or https://example.org/blog/")
            return "http://localhost/"
        return value if value.endswith("/") else value + "/"

    def timezone(self, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail("timezone", f"timezone '{value}' is not an IANA time zone name "
                      "(use a name such as America/New_York, Europe/London or UTC)")
            return "UTC"
        return value

    def positive(self, value: int, key: str) -> int:
        if value < 1:
            self.fail(key, f"'{key}' must be 1 or more, not {value}")
            return 1
        return value

    def permalink(self, value: str) -> str:
        fields = set(re.findall(r"{(\w*)}", value))
        unknown = sorted(fields - set(PERMALINK_FIELDS))
        if unknown:
            self.fail("permalink", f"permalink field '{{{unknown[0]}}}' is unknown; "
                      f"use {', '.join('{' + f + '}' for f in PERMALINK_FIELDS)}")
        elif "slug" not in fields:
            self.fail("permalink", "permalink must contain {slug}, or posts would collide")
        elif not (value.startswith("/") and value.endswith("/")):
            self.fail("permalink", f"permalink '{value}' must start and end with '/'")
        return value

    def links(self, raw: list) -> tuple[Link, ...]:
        links = []
        for index, item in enumerate(raw):
            entry = self.table(item, LINK_KEYS, f"footer_links[{index}]")
            if entry["label"] and entry["url"]:
                links.append(Link(entry["label"], entry["url"]))
        return tuple(links)

    def sections(self, raw: list | None) -> tuple:
        if not raw:
            if raw is not None:
                self.fail("sections", "declare at least one [[sections]] with a name")
            return ()
        sections, seen_slugs = [], {}
        for index, item in enumerate(raw):
            entry = self.table(item, SECTION_KEYS, f"sections[{index}]")
            name = entry["name"]
            if not name:
                continue
            slug = entry["slug"] if entry["slug"] is not None else slugify(name)
            if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug):
                self.fail("slug", f"section '{name}': slug '{slug}' must be lowercase "
                          "letters, digits and single hyphens")
            elif slug in seen_slugs:
                self.fail("slug", f"sections '{seen_slugs[slug]}' and '{name}' share "
                          f"the slug '{slug}'; give one a different slug")
            seen_slugs.setdefault(slug, name)
            sections.append(SectionConfig(name, slug, entry["description"]))
        return tuple(sections)

    def comments(self, entry: dict) -> CommentsConfig:
        provider = entry["provider"]
        if provider not in COMMENT_PROVIDERS:
            self.fail("provider", f"comments.provider '{provider}' is unknown"
                      f"{did_you_mean(provider, COMMENT_PROVIDERS)}; "
                      f"use one of {', '.join(COMMENT_PROVIDERS)}")
            provider = "none"
        settings: dict = {}
        if provider != "none":
            settings = self.table(entry[provider], PROVIDER_KEYS[provider],
                                  f"comments.{provider}")
        return CommentsConfig(provider, entry["enabled"],
                              tuple(sorted((k, v) for k, v in settings.items()
                                           if v is not None)))

    def hosts(self, names: list) -> tuple[str, ...]:
        for name in names:
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9.-]+", name):
                self.fail("iframe_hosts", f"iframe host {name!r} must be a bare host name "
                          "such as www.youtube-nocookie.com")
        return tuple(n for n in names if isinstance(n, str))

    def extensions(self, names: list) -> tuple[str, ...]:
        for name in names:
            if not isinstance(name, str) or not re.fullmatch(r"[\w.]+(:\w+)?", name):
                self.fail("extensions", f"markdown extension {name!r} is not a name")
        return tuple(n for n in names if isinstance(n, str))


def find_section(sections: tuple[SectionConfig, ...], name: str) -> SectionConfig | None:
    """Find a declared section by its name, or by anything that slugifies to its slug."""
    for section in sections:
        if name == section.name or slugify(name) == section.slug:
            return section
    return None


def unknown_section(name: str, sections: tuple[SectionConfig, ...]) -> str:
    """Explain that a section is not declared, listing those that are."""
    known = [s.name for s in sections]
    return (f"unknown section '{name}'{did_you_mean(name, known)}; known sections: "
            f"{', '.join(known)} (declare new ones in site.toml)")


def _has_type(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return TYPE_NAMES[type(value)]
    return repr(value)
