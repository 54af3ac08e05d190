"""Fixtures for the quality gates: the demo's base URL and a way to build it elsewhere."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_base_url() -> str:
    """Return the demo's base_url from site.toml, ending in '/'."""
    with open(PROJECT_DIR / "site.toml", "rb") as handle:
        return tomllib.load(handle)["base_url"].rstrip("/") + "/"


@pytest.fixture(scope="session")
def build_demo() -> Callable[..., Path]:
    """Return a function that builds the demo into a folder with extra CLI arguments."""
    def build(output: Path, *args: str) -> Path:
        result = subprocess.run(
            [sys.executable, str(PROJECT_DIR / "build.py"), "--site", str(PROJECT_DIR),
             "--output", str(output), *args],
            capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR)
        assert result.returncode == 0, f"build failed:\n{result.stdout}{result.stderr}"
        return output
    return build
