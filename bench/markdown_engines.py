#!/usr/bin/env python3
"""Compare Marginalia's two Markdown engines with a CommonMark + GFM reference.

    python bench/markdown_engines.py [--posts 600] [--repeat 5] [--libraries]
                                     [--show-differences N]

Agreement is the share of posts whose element structure (paragraphs, lists and
items, code, quotes, headings, tables, links, images, emphasis, strikethrough, line
breaks, task boxes) and the words in each element equal the reference's: markdown-it-py with its
GFM plugins (tables, strikethrough, autolinks, task lists, footnotes). Every output,
the reference's too, goes through the same heading shift and sanitiser first, so only
the reading of the Markdown is compared. Two corpora: tests/fixtures/commonmark/ (one
CommonMark habit a file) and posts generated here, seeded, from templates of such
habits mixed into ordinary commentary. Python-Markdown as it was before these engines
(the old default extensions, no CommonMark habits) is measured too. Speed is each
engine's conversion of the generated posts, alone and inside the whole
render_markdown (sanitiser and all); --libraries also compares cmarkgfm and pyromark
called directly.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

import html5lib

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
FIXTURES_DIR = PROJECT_DIR / "tests" / "fixtures" / "commonmark"
sys.path[:0] = [str(PROJECT_DIR), str(BENCH_DIR)]

from generate import LIST_ITEMS, OUTLETS, quote_sentence, sentence  # noqa: E402
from marginalia.config import DEFAULT_EXTENSIONS  # noqa: E402
from marginalia.engines import convert_markdown, shift_headings  # noqa: E402
from marginalia.markup import render_markdown, sanitize_html  # noqa: E402
from marginalia.model import MarkdownConfig  # noqa: E402

ENGINES = {
    "python-markdown": MarkdownConfig("python-markdown", DEFAULT_EXTENSIONS),
    "commonmark": MarkdownConfig("commonmark", ("smarty",)),
}
# The engine as it was before: Python-Markdown with the old default extensions, read
# as Python-Markdown reads them, and first-level headings left to the sanitiser.
BEFORE = ("footnotes", "tables", "fenced_code", "attr_list")
SEED = 20250301
KEPT = frozenset({"p", "ul", "ol", "li", "pre", "code", "blockquote", "h1", "h2", "h3", "h4",
                  "h5", "h6", "a", "img", "em", "strong", "del", "table", "tr", "th", "td",
                  "input", "hr", "br"})
SAME_AS = {"s": "del", "strike": "del", "b": "strong", "i": "em"}
WORD = re.compile(r"\w+")


# --- the reference --------------------------------------------------------------------

_reference = None


def reference_html(body: str) -> str:
    """Render body as CommonMark + GFM with markdown-it-py."""
    global _reference
    if _reference is None:
        from markdown_it import MarkdownIt
        from mdit_py_plugins.footnote import footnote_plugin
        from mdit_py_plugins.tasklists import tasklists_plugin

        _reference = (MarkdownIt("gfm-like", {"maxNesting": 100})
                      .use(footnote_plugin).use(tasklists_plugin))
        _reference.core.ruler.after("linkify", "gfm_autolinks", _only_gfm_autolinks)
        _reference.linkify.tlds(["example"], True)  # GFM links any domain; linkify-it checks
    return _reference.render(body)


def _only_gfm_autolinks(state) -> None:
    """GFM links bare www. names, URLs with a scheme and e-mail addresses; linkify-it
    also links bare domains (example.org), which GFM leaves as text."""
    for token in state.tokens:
        children = token.children or []
        drop: set[int] = set()
        for index, child in enumerate(children):
            if child.type == "link_open" and child.markup == "linkify":
                text = children[index + 1].content if index + 1 < len(children) else ""
                if not re.match(r"(?i)(https?://|www\.|mailto:)|[^@\s]+@", text):
                    drop |= {index, index + 2}
        if drop:
            token.children = [c for i, c in enumerate(children) if i not in drop]


def structure(html: str) -> tuple:
    """The kept elements of html, nested, with the words of the text in each."""
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    return _walk(fragment)


def _walk(element) -> tuple:
    out: list = []
    out += WORD.findall((element.text or "").lower())
    for child in element:
        inner = _walk(child)
        tag = SAME_AS.get(child.tag, child.tag) if isinstance(child.tag, str) else ""
        if tag == "strong" and len(inner) == 1 and isinstance(inner[0], tuple) \
                and inner[0][0] == "em":
            tag, inner = "em", (("strong", inner[0][1]),)  # the same thing, either way round
        if tag in KEPT:
            out.append((tag, inner))
        else:
            out += inner
        out += WORD.findall((child.tail or "").lower())
    return tuple(out)


def engine_structure(body: str, markdown: MarkdownConfig) -> tuple:
    return structure(sanitize_html(convert_markdown(body, markdown)))


_old_converter = None


def old_structure(body: str) -> tuple:
    """The structure Python-Markdown gave before, with the old default extensions."""
    global _old_converter
    if _old_converter is None:
        import markdown

        _old_converter = markdown.Markdown(extensions=list(BEFORE), output_format="html")
    return structure(sanitize_html(_old_converter.reset().convert(body)))


def reference_structure(body: str) -> tuple:
    return structure(sanitize_html(shift_headings(reference_html(body))))


# --- the corpus -------------------------------------------------------------------------

def _url(rng: random.Random) -> str:
    _, domain = rng.choice(OUTLETS)
    return f"https://www.{domain}/{rng.randrange(2015, 2026)}/{rng.randrange(10**4):04d}/"


def _items(rng: random.Random, low: int = 2, high: int = 4) -> list[str]:
    return [item + "." for item in rng.sample(LIST_ITEMS, rng.randint(low, high))]


def _list_under_paragraph(rng, notes):
    bullet = rng.choice("-*")
    return "What to watch next:\n" + "\n".join(f"{bullet} {i}" for i in _items(rng))


def _nested_by_two(rng, notes):
    outer, inner = _items(rng, 2, 3), _items(rng, 1, 3)
    lines = [f"- {outer[0]}"] + [f"  - {i}" for i in inner] + [f"- {o}" for o in outer[1:]]
    return f"{sentence(rng)}\n\n" + "\n".join(lines)


def _ordered_nested_by_three(rng, notes):
    steps = _items(rng, 2, 3)
    lines = [f"1. {steps[0]}", *(f"   - {i}" for i in _items(rng, 1, 2))]
    lines += [f"{n}. {s}" for n, s in enumerate(steps[1:], start=2)]
    return "The order matters:\n\n" + "\n".join(lines)


def _code_label_reference(rng, notes):
    name = rng.choice(("union", "levy", "quota", "tariff_code", "rider"))
    notes.append(f"[`{name}`s]: {_url(rng)}")
    return f"Read the [`{name}`s] clause before anything else; {sentence(rng).lower()}"


def _bare_url(rng, notes):
    url = _url(rng)
    shape = rng.randrange(3)
    if shape == 0:
        return f"The filing is at {url} and {sentence(rng).lower()}"
    if shape == 1:
        return f"Full text: {url.replace('https://', '')}. {sentence(rng)}"
    return f"Corrections go to desk@{rng.choice(OUTLETS)[1]}. {sentence(rng)}"


def _strikethrough(rng, notes):
    return (f"The estimate was ~~{rng.randrange(2, 9)} billion~~ "
            f"{rng.randrange(10, 30)} billion by the time {sentence(rng).lower()}")


def _table(rng, notes):
    rows = "\n".join(f"| {rng.choice(OUTLETS)[0]} | {rng.randrange(1, 99)}% |"
                     for _ in range(rng.randint(2, 4)))
    table = f"| Outlet | Share |\n|---|---:|\n{rows}"
    return f"Who said what:\n{table}" if rng.random() < 0.5 else f"Who said what:\n\n{table}"


def _footnotes(rng, notes):
    labels = rng.sample(("a", "b", "1", "2", "cost", "vote"), 2)
    # Defined in the opposite order to the references, as edits tend to leave them.
    notes += [f"[^{label}]: {sentence(rng)}" for label in reversed(labels)]
    return f"{sentence(rng)}[^{labels[0]}] {sentence(rng)}[^{labels[1]}]"


def _html_block(rng, notes):
    return (f"<details>\n<summary>Background</summary>\n\n{sentence(rng, emphasis=True)}"
            "\n\n</details>")


def _fence_in_list(rng, notes):
    return ("To check the figures yourself:\n\n1. Download the tables:\n\n"
            f"   ```sh\n   curl -O {_url(rng)}data.csv\n   ```\n\n"
            "2. Sum the second column.")


def _fence_in_quote(rng, notes):
    return (f"{rng.choice(OUTLETS)[0]} printed the query:\n\n> ```sql\n"
            "> SELECT county, SUM(levy) FROM budget GROUP BY county;\n> ```")


def _hashtag(rng, notes):
    return f"#{rng.choice(('budget', 'harbor', 'vote2024', 'grid'))} was trending all day, and {sentence(rng).lower()}"


def _first_level_heading(rng, notes):
    return f"# {rng.choice(('Background', 'What happened', 'The numbers'))}\n\n{sentence(rng)}"


def _task_list(rng, notes):
    return "Still open:\n\n" + "\n".join(f"- [{rng.choice(' x')}] {i}" for i in _items(rng))


def _parenthesis_list(rng, notes):
    return "\n".join(f"{n}) {i}" for n, i in enumerate(_items(rng), start=1))


def _subheading(rng, notes):
    return f"## {rng.choice(('Why it matters', 'What comes next', 'The fine print'))}"


def _image(rng, notes):
    return f"![A chart of the {rng.choice(('levy', 'vote', 'budget'))}](chart.png)"


def _fenced_code(rng, notes):
    return "```python\ntotal = sum(row[1] for row in rows)\n```"


# (template, share of posts that use it), chosen once as plausible for a blog written
# by people used to GitHub; the first group trips the old engine, the second is neutral.
HABITS = (
    (_list_under_paragraph, 0.12), (_nested_by_two, 0.08), (_ordered_nested_by_three, 0.04),
    (_code_label_reference, 0.03), (_bare_url, 0.12), (_strikethrough, 0.05),
    (_table, 0.05), (_footnotes, 0.08), (_html_block, 0.03), (_fence_in_list, 0.03),
    (_fence_in_quote, 0.02), (_hashtag, 0.02), (_first_level_heading, 0.05),
    (_task_list, 0.02), (_parenthesis_list, 0.02),
    (_subheading, 0.30), (_image, 0.15), (_fenced_code, 0.10),
)


def generate_corpus(count: int, seed: int = SEED) -> list[str]:
    """Make count post bodies: commentary with a quoted source, and some habits."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        notes: list[str] = []
        blocks = [sentence(rng, link=True), f"{rng.choice(OUTLETS)[0]}:",
                  "> " + " ".join(quote_sentence(rng) for _ in range(2))]
        habits = [habit for habit, share in HABITS if rng.random() < share]
        rng.shuffle(habits)
        for habit in habits:
            blocks.append(" ".join(sentence(rng, link=rng.random() < 0.5,
                                            emphasis=rng.random() < 0.5)
                                   for _ in range(rng.randint(2, 3))))
            blocks.append(habit(rng, notes))
        blocks.append(sentence(rng, emphasis=True))
        bodies.append("\n\n".join(blocks + notes) + "\n")
    return bodies


def fixture_corpus() -> dict[str, str]:
    """The fixture posts, one CommonMark habit each, by file name."""
    return {path.stem: path.read_text(encoding="utf-8")
            for path in sorted(FIXTURES_DIR.glob("*.md"))}


# --- measuring -------------------------------------------------------------------------

def agreement(bodies: list[str], structure_of) -> tuple[float, list[int]]:
    """The share of bodies read as the reference reads them, and the others' indexes."""
    differing = [i for i, body in enumerate(bodies)
                 if structure_of(body) != reference_structure(body)]
    return 1 - len(differing) / len(bodies), differing


def seconds_per_pass(convert, bodies: list[str], repeat: int) -> float:
    """The best of repeat passes over bodies, in seconds of this process's CPU time,
    which other jobs on the machine disturb far less than wall time."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        for body in bodies:
            convert(body)
        times.append(time.process_time() - started)
    return min(times)


def compare_libraries(bodies: list[str], fixtures: list[str], repeat: int) -> None:
    """Print speed and agreement of the two native CommonMark + GFM libraries, called
    directly with every GFM extension each has."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    candidates = {"cmarkgfm (cmark-gfm)": lambda body: cmarkgfm.markdown_to_html_with_extensions(
        body, options=Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES,
        extensions=("table", "strikethrough", "autolink", "tasklist"))}
    try:
        import pyromark
    except ImportError:
        print("(pip install pyromark to compare it too)")
    else:
        flags = pyromark.Options
        chosen = (flags.ENABLE_TABLES | flags.ENABLE_STRIKETHROUGH | flags.ENABLE_TASKLISTS
                  | flags.ENABLE_FOOTNOTES | flags.ENABLE_GFM)
        candidates["pyromark (pulldown-cmark)"] = lambda body: pyromark.html(body, options=chosen)
    print("| library | CPU a post | fixture posts agreeing | generated posts agreeing |")
    print("|---|---|---|---|")
    for name, convert in candidates.items():
        seconds = seconds_per_pass(convert, bodies, repeat)
        agreeing = [sum(structure(sanitize_html(shift_headings(convert(body))))
                        == reference_structure(body) for body in corpus)
                    for corpus in (fixtures, bodies)]
        print(f"| {name} | {seconds * 1e6 / len(bodies):.0f} µs | {agreeing[0]}/{len(fixtures)} "
              f"| {agreeing[1]}/{len(bodies)} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--show-differences", type=int, default=0, metavar="N",
                        help="print the first N differing posts of each engine")
    parser.add_argument("--libraries", action="store_true",
                        help="also compare cmarkgfm and pyromark, called directly")
    args = parser.parse_args(argv)
    generated = generate_corpus(args.posts)
    fixtures = fixture_corpus()
    print(f"corpora: {len(fixtures)} fixture posts, {len(generated)} generated posts "
          f"({sum(len(b.split()) for b in generated) // len(generated)} words a post)\n")
    print("| engine | fixture posts agreeing | generated posts agreeing |")
    print("|---|---|---|")
    readers = {"python-markdown as it was": old_structure, **{
        name: (lambda body, m=markdown: engine_structure(body, m))
        for name, markdown in ENGINES.items()}}
    for name, structure_of in readers.items():
        fixture_share, fixture_off = agreement(list(fixtures.values()), structure_of)
        share, off = agreement(generated, structure_of)
        print(f"| {name} | {fixture_share:.0%} ({len(fixtures) - len(fixture_off)}/"
              f"{len(fixtures)}) | {share:.1%} ({len(generated) - len(off)}/"
              f"{len(generated)}) |")
        if args.show_differences:
            names = list(fixtures)
            print("   fixtures differing:", ", ".join(names[i] for i in fixture_off))
            for index in off[:args.show_differences]:
                print(f"--- post {index}\n{generated[index]}")
    if args.libraries:
        print()
        compare_libraries(generated, list(fixtures.values()), args.repeat)
    print("\n| engine | conversion alone | whole render_markdown |")
    print("|---|---|---|")
    timings = {}
    for name, markdown in ENGINES.items():
        alone = seconds_per_pass(lambda b, m=markdown: convert_markdown(b, m), generated,
                                 args.repeat)
        whole = seconds_per_pass(
            lambda b, m=markdown: render_markdown(b, m, "content/posts/x.md", 1), generated,
            args.repeat)
        timings[name] = (alone, whole)
        print(f"| {name} | {alone * 1000 / len(generated):.3f} ms CPU a post | "
              f"{whole * 1000 / len(generated):.3f} ms CPU a post |")
    (pm_alone, pm_whole), (cm_alone, cm_whole) = timings.values()
    print(f"\ncommonmark is {pm_alone / cm_alone:.0f}x faster converting, "
          f"{pm_whole / cm_whole:.1f}x faster with the shared steps "
          f"(best of {args.repeat} passes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
