"""Soak: build a large generated site, then edit one post at a time and rebuild.

After every rebuild the output must equal a clean build of the same sources, and
peak memory is recorded. A clean build of a large site takes minutes, so by
default it is compared after the last edit only; --check-every N compares more
often.

    python bench/soak.py --posts 50000 --edits 20
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BUILD = BENCH_DIR.parent / "build.py"
NOW = "2030-01-01T00:00:00Z"


def build(site: Path, output: Path, *extra: str) -> tuple[float, int]:
    """Run one build in a fresh process; return wall seconds and its peak RSS in KiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run([sys.executable, str(BUILD), "--site", str(site), "--output", str(output),
                    "--now", NOW, "-q", *extra], check=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before)


def tree_digest(root: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def edit_one_post(site: Path, rng: random.Random, step: int) -> Path:
    posts = sorted((site / "content").rglob("*.md"))
    post = rng.choice(posts)
    with open(post, "a", encoding="utf-8") as handle:
        handle.write(f"\nA sentence added by soak step {step}.\n")
    return post


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50000)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--check-every", type=int, default=0,
                        help="compare with a clean build every N edits (default: last only)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "work" / "soak")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    site = args.work / "site"
    subprocess.run([sys.executable, str(BENCH_DIR / "generate.py"), "--posts", str(args.posts),
                    "--out", str(site), "--engine", "marginalia"], check=True)
    output = args.work / "output"
    seconds, peak = build(site, output)
    print(f"cold build of {args.posts} posts: {seconds:.1f} s, peak {peak / 1024:.0f} MiB")
    rng = random.Random(20261125)
    mismatches = 0
    for step in range(1, args.edits + 1):
        post = edit_one_post(site, rng, step)
        seconds, peak = build(site, output)
        line = f"edit {step:2d} ({post.name}): {seconds:.2f} s, peak {peak / 1024:.0f} MiB"
        if step == args.edits or (args.check_every and step % args.check_every == 0):
            clean_site = args.work / "clean-site"
            shutil.rmtree(clean_site, ignore_errors=True)
            shutil.copytree(site, clean_site, ignore=shutil.ignore_patterns(".cache"))
            clean_output = args.work / "clean-output"
            shutil.rmtree(clean_output, ignore_errors=True)
            build(clean_site, clean_output, "--no-cache")
            same = tree_digest(output) == tree_digest(clean_output)
            mismatches += not same
            line += "; equals a clean build" if same else "; DIFFERS from a clean build"
        print(line, flush=True)
    print("peak memory is the largest of any single build process so far")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
