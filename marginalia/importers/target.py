"""Where an import writes: every file is made in a staging folder beside the site first,
then moved into place, so a failed import writes nothing; a file the editor changed
since the last import is kept unless --force."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..config import CONFIG_NAME, load_config
from ..errors import ConfigError
from ..model import Config
from ..starter import SiteSettings, init_site, toml_string
from .common import SectionSpec
from .report import REPORT_NAME, ImportReport, read_previous_hashes

STAGE_PREFIX = ".marginalia-import-"


class Stage:
    """Files an import makes, held in a folder beside the site until all are ready."""

    def __init__(self, parent: Path):
        self.dir = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=parent))
        self.files_dir = self.dir / "files"
        self.hashes: dict[str, str] = {}

    def has(self, rel_path: str) -> bool:
        return rel_path in self.hashes

    def add_text(self, rel_path: str, text: str) -> None:
        self.add_bytes(rel_path, text.encode("utf-8"))

    def add_bytes(self, rel_path: str, data: bytes) -> None:
        path = self._claim(rel_path)
        path.write_bytes(data)
        self.hashes[rel_path] = hashlib.sha256(data).hexdigest()

    def add_copy(self, rel_path: str, source: Path) -> None:
        path = self._claim(rel_path)
        shutil.copyfile(source, path)
        self.hashes[rel_path] = file_hash(path)

    def _claim(self, rel_path: str) -> Path:
        assert rel_path not in self.hashes and ".." not in rel_path.split("/"), rel_path
        path = self.files_dir / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Outcome:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed by the editor: not replaced
    not_restored: list[str] = field(default_factory=list)  # deleted by the editor
    sections_added: list[str] = field(default_factory=list)
    made_site: bool = False


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_site(stage: Stage, settings: SiteSettings, now: datetime) -> tuple[Path, set[str]]:
    """Make a new site in the staging folder as init would, without the sample post.

    Returns its folder and the starter files an imported file may replace.
    """
    site_dir = stage.dir / "site"
    written, _ = init_site(site_dir, settings, now)
    starters = set()
    for path in written:
        rel_path = path.relative_to(site_dir).as_posix()
        if rel_path.startswith("content/posts/"):  # the welcome post: not this blog's
            path.unlink()
            _remove_empty_parents(path.parent, site_dir / "content")
        else:
            starters.add(rel_path)
    return site_dir, starters


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def check_new_folder(folder: Path) -> None:
    """Refuse a folder that holds anything: an import into a site needs --into."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError("this is a file, not a folder; name a new folder", str(folder))
    if folder.is_dir() and any(folder.iterdir()):
        hint = (f"; to import into this site, use --into {folder}"
                if (folder / CONFIG_NAME).is_file() else "; name a new folder")
        raise ConfigError(f"the folder is not empty{hint}", str(folder))


def existing_site(site_dir: Path) -> Config:
    if not (site_dir / CONFIG_NAME).is_file():
        raise ConfigError(f"no {CONFIG_NAME} here: --into needs a site's folder; to make "
                          "a new site, name a new folder instead of --into", str(site_dir))
    return load_config(site_dir)


def commit(stage: Stage, site_dir: Path, report: ImportReport, force: bool,
           replaceable: Iterable[str] = ()) -> Outcome:
    """Move every staged file into the site, unless the editor changed or deleted the
    one there since the last import; record each file's hash in the report."""
    outcome = Outcome()
    previous = _previous_hashes(site_dir)
    replaceable = set(replaceable)
    for rel_path in stage.hashes:  # every problem before the first file moves
        target = site_dir / rel_path
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise ConfigError("is a link or a folder where the import writes a file; "
                              "move it away", str(target))
    for rel_path, digest in sorted(stage.hashes.items()):
        target = site_dir / rel_path
        if target.exists():
            current = file_hash(target)
            if current == digest:
                outcome.unchanged.append(rel_path)
                report.files[rel_path] = digest
                continue
            if not force and rel_path not in replaceable and previous.get(rel_path) != current:
                outcome.kept.append(rel_path)
                report.files[rel_path] = previous.get(rel_path, current)
                continue
        elif rel_path in previous and not force:
            outcome.not_restored.append(rel_path)
            report.files[rel_path] = previous[rel_path]
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage.files_dir / rel_path, target)
        outcome.written.append(rel_path)
        report.files[rel_path] = digest
    # Files an earlier import wrote that this one did not make stay, and stay known.
    for rel_path, digest in previous.items():
        report.files.setdefault(rel_path, digest)
    return outcome


def _previous_hashes(site_dir: Path) -> dict[str, str]:
    try:
        return read_previous_hashes((site_dir / REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def write_report(site_dir: Path, report: ImportReport) -> bool:
    """Write import-report.json when its text changed; return whether it did."""
    return write_if_changed(site_dir / REPORT_NAME, report.to_json())


def write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return True


def declare_sections(site_dir: Path, sections: Iterable[SectionSpec],
                     source: str) -> list[str]:
    """Append a [[sections]] block to site.toml for each section it lacks, keeping every
    line that is there; return the names added."""
    path = site_dir / CONFIG_NAME
    text = path.read_text(encoding="utf-8-sig")
    declared = tomllib.loads(text).get("sections", [])
    names = {str(s.get("name", "")).casefold() for s in declared if isinstance(s, dict)}
    missing = [s for s in sections if s.name.casefold() not in names]
    if not missing:
        return []
    blocks = [f"\n# Sections made from the {source} import.\n"]
    for section in missing:
        blocks.append(f"[[sections]]\nname = {toml_string(section.name)}\n"
                      f"slug = {toml_string(section.slug)}\n")
        if section.description:
            blocks.append(f"description = {toml_string(section.description)}\n")
        blocks.append("\n")
    new_text = text.rstrip("\n") + "\n" + "".join(blocks).rstrip("\n") + "\n"
    try:
        tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:  # such as 'sections = [...]' written inline
        raise ConfigError(f"cannot add [[sections]] to this file ({exc}); declare them "
                          f"as [[sections]] tables: {', '.join(s.name for s in missing)}",
                          CONFIG_NAME) from None
    write_if_changed(path, new_text)
    return [s.name for s in missing]


def set_markdown_engine(site_dir: Path, engine: str) -> bool:
    """Add '[markdown] engine = ...' to site.toml when it has no [markdown] table."""
    path = site_dir / CONFIG_NAME
    text = path.read_text(encoding="utf-8-sig")
    if "markdown" in tomllib.loads(text):
        return False
    new_text = (text.rstrip("\n") + "\n\n# The source site's Markdown was CommonMark.\n"
                f"[markdown]\nengine = {toml_string(engine)}\n")
    write_if_changed(path, new_text)
    return True


def move_into_place(site_dir: Path, folder: Path) -> None:
    """Move a new site made in the staging folder to where the editor asked for it."""
    if folder.is_dir():
        folder.rmdir()  # empty: check_new_folder made sure
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(site_dir, folder)
