"""Keep the benchmark working: a tiny run of our engine alone, as CI can afford."""

from __future__ import annotations

import subprocess
import sys

from conftest import PROJECT_DIR


def test_quick_benchmark_builds_and_prints_its_table(tmp_path):
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "bench" / "run.py"), "--quick",
         "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| cold build, wall |" in result.stdout
    assert "edit shown in output | yes" in result.stdout


def test_markdown_engine_comparison_runs_and_prints_its_tables():
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "bench" / "markdown_engines.py"), "--posts", "20",
         "--repeat", "1"], capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| commonmark | 100% (" in result.stdout
    assert "faster converting" in result.stdout
