"""Run an import: read the source, stage every file, then commit them to the site."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType

from ..errors import ConfigError, ContentError
from ..starter import SiteSettings, local_timezone
from .common import ImportContext, SourceSettings
from .report import ImportReport
from .target import (Outcome, Stage, check_new_folder, commit, declare_sections,
                     existing_site, move_into_place, new_site, set_markdown_engine,
                     write_report)

SOURCES = ("wordpress", "jekyll", "hugo", "zola")
SOURCE_NAMES = {"wordpress": "WordPress", "jekyll": "Jekyll", "hugo": "Hugo", "zola": "Zola"}
FALLBACK_SECTION = "Commentary"


@dataclass(frozen=True)
class ImportOptions:
    kind: str  # one of SOURCES
    source: Path  # the export file, or the site's folder
    now: datetime
    folder: Path | None = None  # a new site's folder
    into: Path | None = None  # an existing site's folder
    uploads: Path | None = None  # a copy of wp-content/uploads
    force: bool = False
    base_url: str = ""
    timezone: str = ""
    section: str = ""  # for posts with no category or section of their own


@dataclass
class ImportResult:
    site_dir: Path
    report: ImportReport
    outcome: Outcome = field(default_factory=Outcome)


def run_import(options: ImportOptions) -> ImportResult:
    """Import the source into a new or an existing site; write nothing on bad input."""
    importer = _importer(options.kind)
    source = options.source
    _check_source(options)
    settings = importer.read_settings(source, source.name)
    target = (options.into or options.folder or Path(".")).absolute()
    if options.into is None:
        check_new_folder(target)
    else:
        existing_site(target)
    stage = Stage(_nearest_folder(target.parent) if options.into is None else target)
    try:
        if options.into is None:
            site_dir, replaceable = new_site(stage, _site_settings(settings, options),
                                             options.now)
        else:
            site_dir, replaceable = target, set()
        config = existing_site(site_dir)
        report = ImportReport(options.kind, source.name)
        default_section = options.section or (
            config.sections[0].name if config.sections else FALLBACK_SECTION)
        ctx = ImportContext(config=config, report=report, stage=stage, now=options.now,
                            default_section=default_section,
                            uploads=options.uploads.absolute() if options.uploads else None)
        engine = importer.import_source(source, ctx)
        outcome = commit(stage, site_dir, report, options.force, replaceable)
        outcome.sections_added = declare_sections(site_dir, ctx.sections.values(),
                                                  SOURCE_NAMES[options.kind])
        if engine:
            set_markdown_engine(site_dir, engine)
        write_report(site_dir, report)
        if options.into is None:
            move_into_place(site_dir, target)
            outcome.made_site = True
        return ImportResult(target, report, outcome)
    finally:
        stage.discard()


def _nearest_folder(path: Path) -> Path:
    """The path, or its closest ancestor that exists: a new site's folder and its
    parents are made only once the import has succeeded."""
    while not path.is_dir():
        path = path.parent
    return path


def _importer(kind: str) -> ModuleType:
    """The module that reads this kind of source, imported only when it is used."""
    if kind not in SOURCES:
        raise ConfigError(f"unknown source '{kind}'; use one of {', '.join(SOURCES)}")
    return importlib.import_module(f".{kind}", __package__)


def _check_source(options: ImportOptions) -> None:
    source = options.source
    if options.kind == "wordpress":
        if not source.is_file():
            raise ContentError("no such file: name the .xml file WordPress's Tools > "
                               "Export made", str(source))
    elif not source.is_dir():
        raise ContentError(f"not a folder: name the {SOURCE_NAMES[options.kind]} "
                           "site's folder", str(source))
    if options.uploads is not None and not options.uploads.is_dir():
        raise ConfigError("--uploads must name a folder: a copy of wp-content/uploads",
                          str(options.uploads))
    if options.into is not None and options.folder is not None:
        raise ConfigError("name a new folder or --into an existing site, not both",
                          str(options.folder))


def _site_settings(source: SourceSettings, options: ImportOptions) -> SiteSettings:
    defaults = SiteSettings()
    return SiteSettings(
        title=source.title or defaults.title,
        description=source.description or defaults.description,
        base_url=options.base_url or _usable_base_url(source.base_url) or defaults.base_url,
        publisher="", timezone=options.timezone or source.timezone or local_timezone())


def _usable_base_url(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else ""

