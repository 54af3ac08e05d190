"""Start a new site, and take a default layout or theme file into a site to edit it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import installed_version
from .config import CONFIG_NAME
from .errors import ConfigError, did_you_mean
from .templates import DEFAULTS_DIR, LAYOUTS_DIR
from .theme import THEME_DIR

STARTER_DIR = DEFAULTS_DIR / "starter"
# (file in the package's starter folder, where it goes in the new site); the package keeps
# no dot-files, which some packaging tools drop.
STARTER_FILES = (
    ("site.toml", "site.toml"),
    ("content/posts/welcome.md", "content/posts/{year}/welcome.md"),
    ("content/pages/about.md", "content/pages/about.md"),
    ("gitignore", ".gitignore"),
    ("requirements.txt", "requirements.txt"),
    ("github/workflows/publish.yml", ".github/workflows/publish.yml"),
)


@dataclass(frozen=True)
class SiteSettings:
    title: str = "A Commentary Blog"
    description: str = "Short notes on the news, with the sources in plain view."
    base_url: str = "https://example.org/"
    publisher: str = ""
    timezone: str = ""


def init_site(site_dir: Path, settings: SiteSettings, now: datetime,
              force: bool = False) -> tuple[list[Path], list[Path]]:
    """Write a new site into site_dir; return (files written, files kept as they were).

    A folder with anything in it is refused unless force; even then no file is replaced.
    """
    if site_dir.exists() and not site_dir.is_dir():
        raise ConfigError("this is a file, not a folder; name a new folder", str(site_dir))
    if site_dir.is_dir() and any(site_dir.iterdir()) and not force:
        raise ConfigError("the folder is not empty; name a new folder, or pass --force "
                          "to add the starter files beside what is there (none is "
                          "replaced)", str(site_dir))
    zone = settings.timezone or local_timezone()
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone '{zone}'; use an IANA name such as "
                          "America/New_York or Europe/Berlin", "--timezone") from None
    local_now = now.astimezone(tz).replace(microsecond=0)
    values = {
        "@TITLE@": toml_string(settings.title),
        "@DESCRIPTION@": toml_string(settings.description),
        "@BASE_URL@": toml_string(settings.base_url.rstrip("/") + "/"),
        "@PUBLISHER@": toml_string(settings.publisher or settings.title),
        "@TIMEZONE@": toml_string(zone),
        "@DATE@": local_now.isoformat(),
        "@VERSION@": installed_version(),
    }
    written, kept = [], []
    for source, destination in STARTER_FILES:
        path = site_dir / destination.format(year=f"{local_now.year:04d}")
        if path.exists():
            kept.append(path)
            continue
        text = (STARTER_DIR / source).read_text(encoding="utf-8")
        for token, value in values.items():
            text = text.replace(token, value)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
        written.append(path)
    return written, kept


def toml_string(text: str) -> str:
    """Quote text as a TOML basic string."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def local_timezone() -> str:
    """The machine's IANA time zone name when it can be told, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(os.readlink("/etc/localtime").partition("zoneinfo/")[2])
    except OSError:
        pass
    for name in candidates:
        try:
            if name and ZoneInfo(name):
                return name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return "UTC"


def default_files() -> dict[str, list[str]]:
    """The default layouts and theme files a site may override, by folder."""
    return {folder: sorted(path.relative_to(DEFAULTS_DIR / folder).as_posix()
                           for path in (DEFAULTS_DIR / folder).rglob("*") if path.is_file())
            for folder in (LAYOUTS_DIR, THEME_DIR)}


def copy_default(site_dir: Path, name: str, force: bool = False) -> Path:
    """Copy one default layout or theme file into the site, where it takes precedence."""
    if not (site_dir / CONFIG_NAME).is_file():
        raise ConfigError(f"no {CONFIG_NAME} in {site_dir}: run this in the site's folder "
                          "or point --site at it", CONFIG_NAME)
    known = {f"{folder}/{relative}": (folder, relative)
             for folder, names in default_files().items() for relative in names}
    by_name = {relative: key for key, (_, relative) in known.items()}
    by_base = {relative.rsplit("/", 1)[-1]: key for key, (_, relative) in known.items()}
    key = name.removeprefix("./")
    key = key if key in known else by_name.get(key, by_base.get(key, ""))
    if not key:
        guess = did_you_mean(name, [*known, *by_name, *by_base])
        raise ConfigError(f"no default layout or theme file '{name}'{guess}; "
                          "'layouts' lists them", name)
    folder, relative = known[key]
    target = site_dir / folder / relative
    if target.exists() and not force:
        raise ConfigError("the site has its own copy already; edit it, or pass --force "
                          "to replace it with the default", key)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEFAULTS_DIR / key, target)
    return target
