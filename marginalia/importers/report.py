"""What an import did, for the editor: counts, every change and why, and the files
written with their hashes, so that a later import can tell an edited file."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

REPORT_NAME = "import-report.json"
REPORT_VERSION = 1
# kind -> how the summary names what the notes of that kind are, in order of weight
NOTE_KINDS = {
    "draft": "made drafts because they were not public on the old site",
    "kept-html": "files keep some HTML that has no Markdown equivalent",
    "shortcode": "shortcodes or template tags with no equivalent, kept as text",
    "remote-image": "images left at their old address (copy them to keep them)",
    "featured-image": "featured images not among the uploads (give --uploads to make them "
                      "lead images; linked here)",
    "old-url": "old addresses that cannot redirect",
    "old-link": "links to the old site that lead to nothing imported",
    "removed": "things removed from content",
    "changed": "other changes to content",
    "skipped": "items not imported",
}


@dataclass(frozen=True, slots=True)
class Note:
    kind: str  # a key of NOTE_KINDS
    file: str  # the site file it concerns, or the source item when nothing was written
    detail: str


@dataclass
class ImportReport:
    """Collects what an import does; written as import-report.json and summarised."""

    source_kind: str
    source_name: str
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    sections: dict[str, str] = field(default_factory=dict)  # source name -> section
    notes: list[Note] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # rel_path -> sha256
    _seen: set[Note] = field(default_factory=set, repr=False)

    def count(self, group: str, key: str, number: int = 1) -> None:
        self.counts[group][key] += number

    def note(self, kind: str, file: str, detail: str) -> None:
        """Record one change or problem, once however often it is met."""
        assert kind in NOTE_KINDS, kind
        note = Note(kind, file, detail)
        if note not in self._seen:
            self._seen.add(note)
            self.notes.append(note)

    def to_json(self) -> str:
        """The report as JSON text: the same import gives the same bytes."""
        notes: dict[str, list[dict[str, str]]] = {}
        for kind in NOTE_KINDS:
            found = [{"file": n.file, "detail": n.detail}
                     for n in self.notes if n.kind == kind]
            if found:
                notes[kind] = found
        data = {
            "version": REPORT_VERSION,
            "source": {"kind": self.source_kind, "name": self.source_name},
            "counts": {group: dict(sorted(counter.items()))
                       for group, counter in sorted(self.counts.items())},
            "sections": self.sections,
            "notes": notes,
            "files": dict(sorted(self.files.items())),
        }
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    def summary(self) -> list[str]:
        """A few lines for the terminal; the JSON file has everything."""
        lines = []
        for group, counter in sorted(self.counts.items()):
            parts = ", ".join(f"{number} {key}" for key, number in sorted(counter.items()))
            lines.append(f"  {group}: {parts}")
        if self.sections:
            lines.append("  sections:")
            shown = {k: v for k, v in self.sections.items() if v != "tag"}
            lines += [f"    {source} -> {target}" for source, target in shown.items()]
            if len(shown) < len(self.sections):
                lines.append(f"    {len(self.sections) - len(shown)} more kept as tags")
        for kind, meaning in NOTE_KINDS.items():
            found = [n for n in self.notes if n.kind == kind]
            if found:
                example = f"{found[0].file}: {found[0].detail}"
                lines.append(f"  {len(found)} {meaning}; e.g. {example[:150]}")
        return lines


def read_previous_hashes(text: str) -> dict[str, str]:
    """The file hashes an earlier import recorded; none when the report is unreadable."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {str(k): str(v) for k, v in files.items() if isinstance(v, str)}
