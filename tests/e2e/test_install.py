"""End-to-end: the engine installed from a wheel, as pipx or pip would, away from its
source tree, starts a site, builds it and lets the site override a default layout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import feedparser
import html5lib
import pytest

from conftest import PROJECT_DIR

NOW = "2026-03-04T15:30:00Z"


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh virtual environment holding the engine's wheel; return its bin/ and env."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_DIR / name, source / name)
    shutil.copytree(PROJECT_DIR / "marginalia", source / "marginalia",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    wheels = root / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
         str(source)], root, env)
    [wheel] = wheels.glob("marginalia-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], root, env)
    shutil.rmtree(source)  # nothing of the source may be reachable from here on
    run([str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheel)], root, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return venv / "bin", env


def test_a_wheel_starts_builds_and_overrides(installed, tmp_path):
    bin_dir, env = installed
    where = run([str(bin_dir / "python"), "-c", "import marginalia; print(marginalia.__file__)"],
                tmp_path, env).stdout
    assert Path(where.strip()).is_relative_to(bin_dir.parent)

    version = run([str(bin_dir / "marginalia"), "--version"], tmp_path, env).stdout
    assert version.startswith("marginalia 0.")

    run([str(bin_dir / "marginalia"), "init", "myblog", "--title", "The Daily Margin",
         "--publisher", "Margin Media LLC", "--timezone", "UTC", "--now", NOW], tmp_path, env)
    site = tmp_path / "myblog"
    built = run([str(bin_dir / "marginalia"), "build", "--now", NOW], site, env)
    assert "warning" not in built.stderr
    output = site / "output"
    post = html5lib.parse((output / "2026/03/04/welcome/index.html").read_bytes(),
                          namespaceHTMLElements=False)
    assert post.findtext(".//h1").startswith("Welcome")
    footer = {a.text: a.get("href") for a in post.iterfind(".//footer//a")}
    assert footer["About"] == "/about/" and (output / "about/index.html").is_file()
    assert "© Margin Media LLC" in "".join(post.find(".//footer").itertext())
    for name in ("feed.xml", "atom.xml"):
        feed = feedparser.parse((output / name).read_bytes())
        assert not feed.bozo and len(feed.entries) == 1
    assert any(p.name.startswith("style.") for p in output.iterdir())

    run([str(bin_dir / "marginalia"), "layouts", "--copy", "partials/footer.html"], site, env)
    footer_layout = site / "layouts/partials/footer.html"
    footer_layout.write_text(footer_layout.read_text().replace(
        "</footer>", '<p id="own-footer">Set in our own footer.</p></footer>'))
    run([str(bin_dir / "python"), "-m", "marginalia", "build", "--now", NOW], site, env)
    post = html5lib.parse((output / "2026/03/04/welcome/index.html").read_bytes(),
                          namespaceHTMLElements=False)
    assert post.findtext(".//p[@id='own-footer']") == "Set in our own footer."
