"""The search index depends on the pages alone: Pagefind's page numbering (the order
it came upon them) and hash-map order are undone by make_reproducible."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from marginalia.search import (_read_packed, _write_packed, find_pagefind, make_reproducible,
                               pagefind_language)

pytestmark = pytest.mark.skipif(find_pagefind() is None, reason="Pagefind is not installed")

PAGES = {
    f"{slug}/index.html": (
        f'<html lang="en"><body><main data-pagefind-body><h1>{title}</h1>'
        f'<p data-pagefind-filter="section">{section}</p>'
        f'<span data-pagefind-sort="date">{date}</span><p>{words}</p></main></body></html>')
    for slug, title, section, date, words in [
        ("steel", "Steel quotas", "Trade", "2017-06-29", "Tariffs on steel and aluminium, ñews in ünïcode."),
        ("missile", "A missile test", "Korea", "2016-06-29", "The launch and the markets."),
        ("grain", "Grain ships", "Trade", "2018-01-02", "Tariffs again, on grain this time."),
        ("envoy", "The envoy", "Korea", "2016-07-01", "Talks, and then more talks, and the ñews."),
        ("budget", "Budget day", "Capitol", "2019-03-03", "The budget and the tariffs."),
    ]}


def index(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for rel_path, html in PAGES.items():
        (site / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (site / rel_path).write_text(html, encoding="utf-8")
    subprocess.run([str(find_pagefind()), "--site", str(site), "--output-path",
                    str(tmp_path / "bundle"), "--silent", "--force-language", "en"], check=True)
    return tmp_path / "bundle"


def files(bundle: Path) -> dict[str, bytes]:
    return {p.relative_to(bundle).as_posix(): p.read_bytes()
            for p in bundle.rglob("*") if p.is_file()}


def renumber_as_pagefind_might(bundle: Path, seed: int) -> None:
    """Give the pages other numbers, consistently everywhere, as another run of
    Pagefind that came upon them in another order would."""
    entry_json = (bundle / "pagefind-entry.json").read_text("utf-8")
    [meta_path] = bundle.glob("pagefind.*.pf_meta")
    meta = _read_packed(meta_path)
    order = list(range(len(meta[1])))
    random.Random(seed).shuffle(order)
    number = dict(zip(range(len(order)), order))
    pages = [None] * len(order)
    for old, new in number.items():
        pages[new] = meta[1][old]
    meta[1] = pages
    for chunk_info in meta[2]:
        path = bundle / "index" / f"{chunk_info[2]}.pf_index"
        chunk = _read_packed(path)
        for word in chunk[0]:
            word[1] = renumber(word[1], number)
            for variant in word[2]:
                variant[1] = renumber(variant[1], number)
        chunk_info[2] = _write_packed(path, "en_", chunk, 7)
    for filter_info in meta[3]:
        path = bundle / "filter" / f"{filter_info[1]}.pf_filter"
        table = _read_packed(path)
        for value in table[1]:
            value[1] = sorted(number[n] for n in value[1])
        table[1].reverse()
        filter_info[1] = _write_packed(path, "en_", table, 7)
    meta[3].reverse()
    for sort in meta[4]:
        sort[1] = [number[n] for n in sort[1]]
    new_hash = _write_packed(meta_path, "pagefind.en_", meta, 13)
    old_hash = meta_path.name.removeprefix("pagefind.").removesuffix(".pf_meta")
    (bundle / "pagefind-entry.json").write_text(entry_json.replace(old_hash, new_hash),
                                                      "utf-8")


def renumber(entries: list, number: dict[int, int]) -> list:
    at, renumbered = 0, []
    for entry in entries:
        at += entry[0]
        renumbered.append([number[at], *entry[1:]])
    renumbered.sort(key=lambda e: e[0])
    previous = 0
    for entry in renumbered:
        entry[0], previous = entry[0] - previous, entry[0]
    return renumbered


def test_pagefind_output_is_understood_and_reads_back_byte_for_byte(tmp_path):
    bundle = index(tmp_path)
    [meta_path] = bundle.glob("pagefind.*.pf_meta")
    meta = _read_packed(meta_path)
    assert meta is not None and len(meta[1]) == len(PAGES)
    chunks = [_read_packed(p) for p in bundle.glob("index/*.pf_index")]
    assert chunks and all(chunk is not None for chunk in chunks)
    variants = [v for chunk in chunks for word in chunk[0] for v in word[2]]
    assert [v[0] for v in variants if v[0] == "ñews"]  # the forms of a word have pages too
    assert all(_read_packed(p) is not None for p in bundle.glob("filter/*.pf_filter"))


@pytest.mark.parametrize("seed", range(4))
def test_any_page_numbering_gives_the_same_bundle(tmp_path, seed):
    bundle = index(tmp_path)
    other = tmp_path / "other"
    shutil.copytree(bundle, other)
    renumber_as_pagefind_might(other, seed)
    assert files(other) != files(bundle) or seed == 0
    make_reproducible(bundle)
    make_reproducible(other)
    assert files(other) == files(bundle)


def test_a_bundle_it_does_not_understand_is_left_as_it_is(tmp_path):
    bundle = index(tmp_path)
    [meta_path] = bundle.glob("pagefind.*.pf_meta")
    meta_path.write_bytes(b"not gzip")
    before = files(bundle)
    make_reproducible(bundle)
    assert files(bundle) == before


@pytest.mark.parametrize("language, told", [
    ("en", "en"), ("pt-BR", "pt-br"), (" de ", "de"), ("zh-Hant-TW", "zh-hant-tw"),
    ("<i>en</i>", "unknown"), ("", "unknown"), ("english language", "unknown")])
def test_pagefind_is_told_a_language_tag_or_unknown(language, told):
    assert pagefind_language(language) == told
