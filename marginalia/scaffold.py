"""Start a new post file with its front matter filled in."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .config import find_section, load_config, unknown_section
from .discover import CONTENT_DIR
from .errors import ContentError
from .model import SectionConfig
from .urls import is_valid_slug, slug_from_name, slug_length_problem, slugify

POSTS_DIR = "posts"


def create_post(site_dir: Path, title: str, section_name: str, now: datetime,
                slug: str | None = None, bundle: bool = False) -> Path:
    """Write content/posts/<year>/<slug>.md (or <slug>/index.md) and return its path."""
    config = load_config(site_dir)
    section = find_section(config.sections, section_name)
    if section is None:
        raise ContentError(unknown_section(section_name, config.sections), "site.toml")
    derived = slugify(title)
    slug = slug if slug is not None else derived
    check_new_slug(slug, from_title=slug == derived)
    local_now = now.astimezone(config.tz).replace(microsecond=0)
    folder = site_dir / CONTENT_DIR / POSTS_DIR / f"{local_now.year:04d}"
    path = folder / slug / "index.md" if bundle else folder / f"{slug}.md"
    if (folder / f"{slug}.md").exists() or (folder / slug / "index.md").exists():
        raise ContentError("a post with this slug exists already; choose another title "
                           "or pass --slug", path.relative_to(site_dir).as_posix())
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as handle:
        # The file's name gives the slug; only a name the rule would change needs slug:.
        handle.write(post_template(title, section, local_now,
                                   slug=slug if slug_from_name(slug) != slug else None))
    return path


def check_new_slug(slug: str, from_title: bool) -> None:
    """Refuse a slug that cannot name the post's file and URL."""
    if from_title and not slug:
        raise ContentError("the title has no letters or digits to make a slug from; "
                           "pass --slug some-words", "new")
    if not is_valid_slug(slug):
        raise ContentError(f"slug '{slug}' must be lowercase letters, digits and single "
                           "hyphens; pass --slug some-words", "new")
    too_long = slug_length_problem(slug)
    if too_long:
        raise ContentError(too_long, "new")


def post_template(title: str, section: SectionConfig, now: datetime,
                  slug: str | None = None) -> str:
    """Return the text of a fresh draft post."""
    # JSON strings are valid YAML double-quoted scalars, so any title is safe here.
    slug_line = f"slug: {slug}\n" if slug else ""
    return (
        "---\n"
        f"title: {json.dumps(title, ensure_ascii=False)}\n"
        f"section: {json.dumps(section.name, ensure_ascii=False)}\n"
        f"date: {now.isoformat()}\n"
        f"{slug_line}"
        'dek: ""\n'
        "sources: []\n"
        "tags: []\n"
        "draft: true\n"
        "---\n"
        "\n"
        "Source Name:\n"
        "\n"
        "> The passage you are responding to.\n"
        "\n"
        "Your commentary.\n"
    )
