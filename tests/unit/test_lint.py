"""Source checks: content must never reach an unsafe YAML loader or a template compiler."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "marginalia"
UNSAFE = {
    "yaml.load( without the safe loader": re.compile(r"\byaml\.load\((?![^)]*SafeLoader)"),
    "yaml.unsafe_load": re.compile(r"\byaml\.(unsafe_load|full_load)\b"),
    "an unsafe YAML Loader": re.compile(r"Loader\s*=\s*yaml\.(Full|Unsafe)?Loader\b"),
    "a template compiled from a string": re.compile(r"\.from_string\(|\bTemplate\("),
    "eval or exec": re.compile(r"(?<![\w.])(eval|exec)\("),
    "pickle (the caches must be plain JSON)": re.compile(r"\bimport pickle\b|\bpickle\.load"),
}


def source_files() -> list[Path]:
    return sorted(PACKAGE_DIR.glob("*.py"))


@pytest.mark.parametrize("path", source_files(), ids=lambda p: p.name)
def test_engine_source_has_no_unsafe_loading(path):
    text = path.read_text(encoding="utf-8")
    found = [f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}: {what}"
             for what, pattern in UNSAFE.items() for m in pattern.finditer(text)]
    assert not found, "\n".join(found)


def test_the_lint_catches_an_unsafe_load():
    sample = "data = yaml.load(text)\nenv.from_string(body)\n"
    hits = [what for what, pattern in UNSAFE.items() if pattern.search(sample)]
    assert "yaml.load( without the safe loader" in hits
    assert "a template compiled from a string" in hits
