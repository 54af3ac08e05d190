"""Read and check site.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .engines import (COMMONMARK, COMMONMARK_HAS, ENGINES, PYTHON_MARKDOWN, SHIPPED_EXTENSIONS,
                      SMART_PUNCTUATION, extension_problem)
from .errors import BuildError, ConfigError, did_you_mean, raise_if_any
from .model import (CommentsConfig, Config, FeedConfig, ImagesConfig, Link, MarkdownConfig,
                    RelatedConfig, SearchConfig, SectionConfig)
from .templates import DEFAULTS_DIR
from .typography import DASH_CONVENTIONS, smarten_plain
from .urls import slugify

CONFIG_NAME = "site.toml"
COMMENT_PROVIDERS = ("none", "giscus", "disqus", "utterances")
DEFAULT_EXTENSIONS = ("smarty", "footnotes", "tables", "fenced_code", "attr_list",
                      "pymdownx.magiclink", "pymdownx.tilde", "pymdownx.saneheaders",
                      "pymdownx.tasklist")
DEFAULT_FAVICON = "theme/favicon.svg"

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
    "typography": (dict, {}),
    "search": (dict, {}),
    "related": (dict, {}),
    "images": (dict, {}),
    "unsafe_html": (bool, False),
    "iframe_hosts": (list, []),
    "favicon": (str, DEFAULT_FAVICON),
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
MARKDOWN_KEYS = {"engine": (str, PYTHON_MARKDOWN), "extensions": (list, list(DEFAULT_EXTENSIONS)),
                 "extension_configs": (dict, {})}
TYPOGRAPHY_KEYS = {"dashes": (str, "em")}
SEARCH_KEYS = {"enabled": (bool, True)}
RELATED_KEYS = {"count": (int, 3), "section_count": (int, 3)}
IMAGES_KEYS = {"cards": (bool, True), "default_card": (str, "")}
RASTER_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
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
        raise ConfigError(f"no {CONFIG_NAME} in {site_dir}: run this in the site's folder "
                          "or point --site at it; to start a new site, run "
                          "'marginalia init FOLDER'", CONFIG_NAME) from None
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
    typography = checker.table(top["typography"], TYPOGRAPHY_KEYS, "typography")
    search = checker.table(top["search"], SEARCH_KEYS, "search")
    related = checker.table(top["related"], RELATED_KEYS, "related")
    images = checker.table(top["images"], IMAGES_KEYS, "images")
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
        markdown=checker.markdown(top["markdown"]),
        author=top["author"],
        unsafe_html=top["unsafe_html"],
        iframe_hosts=checker.hosts(top["iframe_hosts"]),
        favicon=checker.favicon(top["favicon"], site_dir),
        dashes=checker.dashes(typography["dashes"]),
        search=SearchConfig(enabled=search["enabled"]),
        related=RelatedConfig(*(checker.not_negative(related[key], f"related.{key}")
                                for key in RELATED_KEYS)),
        images=ImagesConfig(cards=images["cards"],
                            default_card=checker.default_card(images["default_card"],
                                                              site_dir)),
        extra=top["extra"],
    )
    raise_if_any(checker.errors)
    return replace(config, title=typeset(config, config.title),
                   description=typeset(config, config.description),
                   sections=tuple(replace(s, description=typeset(config, s.description))
                                  for s in config.sections))


def typeset(config: Config, text: str) -> str:
    """Give a prose field (a title, a dek, a description) the body's typography: curly
    quotes and dashes when the site has 'smarty', as characters, never markup."""
    if SMART_PUNCTUATION not in config.markdown_extensions:
        return text
    return smarten_plain(text, config.dashes)


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
        table = dotted_key.rpartition(".")[0]
        if table and "[" not in table:
            # Within its own [table] first: a leaf such as 'enabled' is in several tables.
            header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
            start = next((n for n, line in enumerate(self.lines) if header.match(line)), None)
            if start is not None:
                for number, line in enumerate(self.lines[start + 1:], start=start + 2):
                    if line.lstrip().startswith("["):
                        break
                    if pattern.match(line):
                        return number
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

    def not_negative(self, value: int, key: str) -> int:
        if value < 0:
            self.fail(key, f"'{key}' must be 0 (to show none) or more, not {value}")
            return 0
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

    def favicon(self, value: str, site_dir: Path) -> str:
        if re.match(r"^https?://[^/\s]+", value):
            return value
        path = PurePosixPath(value)
        if value.startswith("/") or len(path.parts) < 2 or path.parts[0] not in (
                "theme", "content") or ".." in path.parts:
            self.fail("favicon", f"favicon '{value}' must be a file under theme/ or "
                      "content/ (such as theme/favicon.png) or an http(s) URL")
            return DEFAULT_FAVICON
        # The engine's default theme stands behind the site's own, file by file.
        roots = (site_dir, DEFAULTS_DIR) if path.parts[0] == "theme" else (site_dir,)
        if not any((root / path).is_file() for root in roots):
            self.fail("favicon", f"favicon '{value}': no such file; put it there or "
                      "fix the path")
            return DEFAULT_FAVICON
        return str(path)

    def default_card(self, value: str, site_dir: Path) -> str:
        """A raster image under content/, checked to exist; Pillow checks the rest."""
        if not value:
            return ""
        path = PurePosixPath(value)
        if (value.startswith("/") or len(path.parts) < 2 or path.parts[0] != "content"
                or ".." in path.parts or not value.lower().endswith(RASTER_SUFFIXES)):
            self.fail("images.default_card", f"images.default_card '{value}' must be a "
                      "JPEG, PNG, WebP or GIF file under content/, such as "
                      "content/images/card.png")
            return ""
        if not (site_dir / path).is_file():
            self.fail("images.default_card", f"images.default_card '{value}': no such "
                      "file; put it there or fix the path")
            return ""
        return str(path)

    def dashes(self, value: str) -> str:
        if value not in DASH_CONVENTIONS:
            self.fail("dashes", f"typography.dashes '{value}' is unknown"
                      f"{did_you_mean(value, DASH_CONVENTIONS)}; use \"em\" (-- is an em "
                      "dash) or \"en\" (-- is an en dash, --- an em dash)")
            return DASH_CONVENTIONS[0]
        return value

    def markdown(self, raw: Any) -> MarkdownConfig:
        entry = self.table(raw, MARKDOWN_KEYS, "markdown")
        engine = entry["engine"]
        if engine not in ENGINES:
            self.fail("engine", f"markdown.engine '{engine}' is unknown"
                      f"{did_you_mean(engine, ENGINES)}; use \"{PYTHON_MARKDOWN}\" (the "
                      f"default) or \"{COMMONMARK}\" (CommonMark with GitHub's extensions)")
            engine = PYTHON_MARKDOWN
        errors_before = len(self.errors)
        names = self.extensions(entry["extensions"])
        configs = self.extension_configs(entry["extension_configs"], names)
        if engine == COMMONMARK:
            self.commonmark_extensions(names if "extensions" in raw else (), configs)
        elif len(self.errors) == errors_before:
            # Loading an extension to check it would cost a build that parses nothing
            # its quickness: those that come with Marginalia are known to load.
            for name in names:
                if name in configs or name not in SHIPPED_EXTENSIONS:
                    problem = extension_problem(name, configs.get(name, {}))
                    if problem:
                        self.fail_near(name, "extensions", problem)
        return MarkdownConfig(engine, names, configs)

    def extensions(self, names: list) -> tuple[str, ...]:
        for name in names:
            if not isinstance(name, str) or not re.fullmatch(r"[\w.]+(:\w+)?", name):
                self.fail("extensions", f"markdown extension {name!r} is not a name")
        return tuple(n for n in names if isinstance(n, str))

    def extension_configs(self, raw: dict, names: tuple[str, ...]) -> dict[str, dict]:
        configs = {}
        for name, options in raw.items():
            if name == SMART_PUNCTUATION:
                self.fail_near(name, "extension_configs",
                               "'smarty' is done by Marginalia's own typography, which takes "
                               "no options here; see [typography] instead")
            elif name not in names:
                self.fail_near(name, "extension_configs",
                               f"markdown.extension_configs names '{name}', which is not in "
                               f"markdown.extensions{did_you_mean(name, names)}; add it there "
                               "or remove its options")
            elif not isinstance(options, dict):
                self.fail_near(name, "extension_configs",
                               f"markdown.extension_configs.\"{name}\" must be a table of "
                               f"options, such as [markdown.extension_configs.\"{name}\"], "
                               f"not {_describe(options)}")
            else:
                configs[name] = options
        return configs

    def commonmark_extensions(self, names: tuple[str, ...], configs: dict) -> None:
        for name in names:
            if name not in COMMONMARK_HAS:
                self.fail_near(name, "extensions",
                               f"markdown extension '{name}' works only with engine = "
                               f"\"{PYTHON_MARKDOWN}\": CommonMark has no such syntax; remove "
                               "it from markdown.extensions, or use that engine")
        if configs:
            self.fail_near(next(iter(configs)), "extension_configs",
                           "markdown.extension_configs sets options of Python-Markdown "
                           f"extensions, which engine = \"{COMMONMARK}\" does not use; "
                           f"remove them, or use engine = \"{PYTHON_MARKDOWN}\"")

    def fail_near(self, name: str, key: str, message: str) -> None:
        """Report a problem on the line naming an extension, else where key is set."""
        quoted = re.compile(rf"[\"']{re.escape(name)}[\"']")
        line = next((n for n, text in enumerate(self.lines, start=1) if quoted.search(text)),
                    None)
        self.errors.append(ConfigError(message, CONFIG_NAME, line or self.line_of(key)))


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
