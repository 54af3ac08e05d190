"""Unit tests for the two Markdown engines: both read the CommonMark habits in
tests/fixtures/commonmark/ as a CommonMark + GFM reference does, and everything a
post can say works the same in both."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import html5lib
import pytest

from conftest import MINIMAL_CONFIG, PROJECT_DIR
from marginalia.cache import config_fingerprint
from marginalia.commentary import summarize
from marginalia.config import DEFAULT_EXTENSIONS, parse_config
from marginalia.errors import BuildError, ContentError
from marginalia.markup import render_markdown
from marginalia.model import MarkdownConfig

sys.path.insert(0, str(PROJECT_DIR / "bench"))
from markdown_engines import (engine_structure, fixture_corpus,  # noqa: E402
                              reference_structure)

PATH = "content/posts/a.md"
BODY_LINE = 6
ENGINES = {
    "python-markdown": MarkdownConfig("python-markdown", DEFAULT_EXTENSIONS),
    "commonmark": MarkdownConfig("commonmark", ("smarty",)),
}
FIXTURES = fixture_corpus()
# A habit Python-Markdown still reads its own way: a changed bullet does not start a
# new list.
PYTHON_MARKDOWN_GAPS = {"bullet-change"}


@pytest.fixture(params=list(ENGINES))
def engine(request) -> MarkdownConfig:
    return ENGINES[request.param]


def render(body: str, markdown: MarkdownConfig, **options) -> str:
    return render_markdown(body, markdown, PATH, BODY_LINE, **options)


def tree(html: str):
    """Parse an HTML fragment with html5lib into an lxml tree under <body>."""
    document = html5lib.parse(f"<body>{html}</body>", treebuilder="lxml",
                              namespaceHTMLElements=False)
    return document.find("body")


def render_tree(body: str, markdown: MarkdownConfig, **options):
    return tree(render(body, markdown, **options))


def render_noting(body: str, markdown: MarkdownConfig, **options):
    warnings: list[tuple[str, int]] = []
    html = render_markdown(body, markdown, PATH, BODY_LINE, warnings=warnings, **options)
    return tree(html), warnings


# --- the fixture corpus against the reference ---------------------------------------------

def test_the_fixture_corpus_has_the_habits_it_is_meant_to_have():
    assert len(FIXTURES) >= 25
    assert PYTHON_MARKDOWN_GAPS <= set(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_commonmark_reads_each_fixture_as_the_reference_does(name):
    body = FIXTURES[name]
    assert engine_structure(body, ENGINES["commonmark"]) == reference_structure(body)


@pytest.mark.parametrize("name", [
    name if name not in PYTHON_MARKDOWN_GAPS else pytest.param(
        name, marks=pytest.mark.xfail(strict=True, reason="read the Python-Markdown way"))
    for name in sorted(FIXTURES)])
def test_python_markdown_reads_each_fixture_as_the_reference_does(name):
    body = FIXTURES[name]
    assert engine_structure(body, ENGINES["python-markdown"]) == reference_structure(body)


def test_the_structure_comparison_sees_a_difference():
    flat, nested = "- a\n- b\n", "- a\n  - b\n"
    assert reference_structure(flat) != reference_structure(nested)
    assert engine_structure(nested, ENGINES["commonmark"]) == reference_structure(nested)


# --- the habits, one by one, in both engines ------------------------------------------------

def test_a_list_right_under_a_paragraph_is_a_list(engine):
    body = render_tree(FIXTURES["list-under-paragraph"], engine)
    assert len(body.xpath("./ul/li")) == 3 and len(body.xpath("./ol/li")) == 2
    assert "2024. was a long year" in body.xpath("string(./p[last()])")


def test_lists_nested_by_two_or_three_spaces_nest(engine):
    body = render_tree(FIXTURES["nested-by-two-spaces"], engine)
    assert body.xpath("./ul/li/ul/li/ul/li/text()") == ["from March"]
    assert len(body.xpath("./ul/li")) == 3
    body = render_tree(FIXTURES["ordered-nested-by-three"], engine)
    assert len(body.xpath("./ol/li")) == 3
    assert len(body.xpath("./ol/li[1]/ul/li")) == 2 and len(body.xpath("./ol/li[2]/ol/li")) == 2


def test_reference_links_whose_label_holds_code_resolve(engine):
    body = render_tree(FIXTURES["reference-with-code"], engine)
    assert body.xpath("//a/@href") == ["https://example.org/bill#unions",
                                       "https://example.org/bill#levy",
                                       "https://example.org/old-bill#rider"]
    assert body.xpath("//a[1]/code/text()") == ["union"]


def test_bare_urls_and_addresses_become_links(engine):
    hrefs = render_tree(FIXTURES["bare-urls"], engine).xpath("//a/@href")
    assert hrefs == ["https://courts.example.org/filings/2024/117",
                     "http://www.example.org/summary", "mailto:desk@example.org",
                     "https://example.org/full-text"]


def test_double_tildes_strike_and_single_ones_stay(engine):
    body = render_tree(FIXTURES["strikethrough"] + "\nAbout ~5 to ~7 km.\n", engine)
    assert body.xpath("//del/text()") == ["four billion", "Friday"]
    assert "~5 to ~7" in body.xpath("string(.)")


def test_a_table_right_under_a_paragraph_is_a_table(engine):
    body = render_tree(FIXTURES["table-under-paragraph"], engine)
    assert body.xpath("./p[1]/text()") == ["Who said what:"]
    assert len(body.xpath("./table//tr")) == 3


def test_footnotes_are_numbered_in_the_order_they_are_referred_to(engine):
    body = render_tree(FIXTURES["footnotes-out-of-order"], engine)
    assert [a.text for a in body.xpath("./p//sup//a")] == ["1", "2"]
    notes = body.xpath("./div[@class='footnote']/ol/li")
    assert [n.xpath("string(.)").split()[1] for n in notes] == ["budget", "roll"]
    for reference in body.xpath("./p//sup//a"):
        note = body.xpath(f"//li[@id='{reference.get('href')[1:]}']")
        back = note[0].xpath(".//a/@href")[-1][1:]
        assert body.xpath(f"//*[@id='{back}']"), "the back link returns to the reference"


def test_markdown_between_the_tags_of_an_html_block_is_markdown(engine):
    body = render_tree(FIXTURES["html-block-with-markdown"], engine)
    assert body.xpath("./details/summary/text()") == ["Background"]
    assert body.xpath("./details/p/em/text()") == ["first"]
    assert body.xpath("./details/p/a/@href") == ["https://example.org/2019"]


def test_a_list_right_under_a_line_in_a_quote_is_a_list(engine):
    body = render_tree(FIXTURES["list-in-quote"] + "\n> > Nested:\n> > - deep\n", engine)
    assert len(body.xpath("//blockquote[p='The plan has three parts:']/ul/li")) == 3
    assert body.xpath("//blockquote/blockquote/ul/li/text()") == ["deep"]


def test_fenced_code_in_lists_and_quotes_is_code(engine):
    body = render_tree(FIXTURES["fence-in-list"], engine)
    assert body.xpath("./ol/li/pre/code/@class") == ["language-sh", "language-python"]
    assert "# *not* emphasis" in body.xpath("string(./ol/li[2]/pre)")
    assert len(body.xpath("./ol/li")) == 3
    body = render_tree(FIXTURES["fence-in-quote"], engine)
    assert body.xpath("//blockquote/pre/code/@class") == ["language-sql"]
    assert body.xpath("//blockquote/p/em/text()") == ["totals"]


def test_a_hash_before_a_word_is_no_heading(engine):
    body = render_tree(FIXTURES["hashtag-line"], engine)
    assert not body.xpath("//h1 | //h2 | //h3 | //h4 | //h5 | //h6")
    assert "#budget was trending" in body.xpath("string(.)")


def test_first_level_headings_move_down_a_level_and_are_never_dropped(engine):
    body = render_tree(FIXTURES["first-level-headings"], engine)
    assert [(h.tag, h.text) for h in body.xpath("./*[starts-with(name(), 'h')]")] == [
        ("h2", "Background"), ("h3", "The vote"), ("h6", "A sixth-level note")]


def test_without_a_first_level_heading_levels_stay(engine):
    body = render_tree("## Two\n\n### Three\n", engine)
    assert [h.tag for h in body.xpath("./*")] == ["h2", "h3"]


def test_task_lists_are_boxes_that_cannot_be_changed(engine):
    body = render_tree(FIXTURES["task-list"], engine)
    boxes = body.xpath("./ul/li/input")
    assert len(boxes) == 3
    assert all(b.get("type") == "checkbox" and b.get("disabled") is not None for b in boxes)
    assert [b.get("checked") is not None for b in boxes] == [True, False, False]


def test_backslash_and_two_spaces_break_lines(engine):
    body = render_tree(FIXTURES["headings-and-breaks"], engine)
    assert len(body.xpath("./p/br")) == 2
    assert [h.tag for h in body.xpath("./h1 | ./h2 | ./h3")] == ["h2", "h3"]


# --- everything a post can say, in both engines ---------------------------------------------

def test_scripts_and_event_handlers_are_removed_with_warnings(engine):
    body, warnings = render_noting("Intro.\n\n<script>alert(1)</script>\n\n"
                                   "<p onclick='x()'>hi</p>\n", engine)
    assert not body.xpath("//script | //@onclick")
    assert "alert" not in body.xpath("string(.)")
    assert sorted(m.split(" removed")[0] for m, _ in warnings) == [
        "<script>", "event-handler attribute 'onclick'"]
    assert [line for _, line in warnings] == [BODY_LINE + 2, BODY_LINE + 4]


@pytest.mark.parametrize("link", ["[x](javascript:alert(1))", "[x](jav&#x61;script:alert(1))",
                                  '<a href="javascript:alert(1)">x</a>',
                                  "[x][r]\n\n[r]: javascript:alert(1)"])
def test_javascript_links_are_made_inert_with_a_warning(engine, link):
    body, [(message, line)] = render_noting(f"Intro.\n\n{link}\n", engine)
    assert not body.xpath("//@href") and body.xpath("//a/text()") == ["x"]
    assert "removed, its text kept" in message
    assert line == BODY_LINE + 2 + link[:link.find("jav")].count("\n")  # where the URL is


def test_unsafe_html_keeps_raw_html(engine):
    body = render_tree('<div class="embed" data-x="1">kept</div>\n', engine, unsafe_html=True)
    assert body.xpath("//div[@class='embed']/@data-x") == ["1"]


def test_quotes_and_dashes_are_typeset(engine):
    body = render_tree("\"Quoted\" -- it's here, and `\"code\"` stays.\n", engine)
    assert body.xpath("string(./p)") == "\u201cQuoted\u201d \u2014 it\u2019s here, and \"code\" stays."


def test_an_attribution_before_a_quote_is_recognised(engine):
    body = render_tree("Reuters:\n\n> The quoted passage.\n\nThe commentary.\n", engine)
    assert body.xpath("./figure[@class='quote']/figcaption[@class='attribution']/text()") == [
        "Reuters:"]
    assert body.xpath("./figure/blockquote/p/text()") == ["The quoted passage."]


@pytest.mark.parametrize("marker", ["{.attribution}", "{: .attribution }"])
def test_an_attribution_marker_works_without_attribute_lists(engine, marker):
    body = render_tree(f"Here is what the minister told reporters on Tuesday. {marker}\n\n"
                       "> Quoted.\n", engine)
    assert body.xpath("./figure/figcaption/text()") == [
        "Here is what the minister told reporters on Tuesday."]


def test_the_summary_is_the_first_paragraph_of_commentary(engine):
    html = render("Reuters:\n\n> Quoted.\n\nThe *first* point, made at once.\n\nMore.\n", engine)
    assert summarize(html) == "The first point, made at once."


def test_links_to_posts_and_images_keep_their_relative_paths(engine):
    body = render_tree(FIXTURES["images-and-links"], engine)
    assert body.xpath("//img/@src") == ["chart.png"]
    assert body.xpath("//img/@alt") == ["A chart of the levy"]
    assert body.xpath("//a/@href") == ["../2016/other-post.md", "https://example.org/report"]


def test_deep_nesting_is_refused_with_a_line(engine):
    body = "Intro.\n\n" + "".join("  " * depth + "- item\n" for depth in range(120))
    with pytest.raises(ContentError) as caught:
        render(body, engine)
    assert "nested" in caught.value.message and caught.value.line > BODY_LINE
    with pytest.raises(ContentError):
        render("> " * 500 + "x\n", engine)


@pytest.mark.parametrize("body", ["[](" * 3000 + "\n", "*" * 20000 + "\n", "_a " * 20000 + "\n",
                                  "<" * 20000 + "\n", "`" * 5000 + "\n", "1. " * 500 + "x\n",
                                  "[a]" * 5000 + "\n", "- " * 30 + "x\n" * 2000])
def test_pathological_input_is_an_error_or_html_within_seconds(engine, body):
    started = time.monotonic()
    try:
        html = render(body, engine)
    except ContentError as error:
        assert error.path == PATH
    else:
        assert isinstance(html, str)
    assert time.monotonic() - started < 3


def test_each_engine_keeps_its_own_converter_between_posts(engine):
    first = render_tree("a[^1]\n\n[^1]: first note\n", engine)
    second = render_tree("b[^1]\n\n[^1]: second note\n", engine)
    assert "first note" in first.xpath("string(//div[@class='footnote'])")
    assert "first note" not in second.xpath("string(//div[@class='footnote'])")


# --- Python-Markdown's options ----------------------------------------------------------------

def test_extension_options_reach_the_extension():
    markdown = replace(ENGINES["python-markdown"], extension_configs={
        "pymdownx.tilde": {"subscript": True}, "footnotes": {"USE_DEFINITION_ORDER": True}})
    body = render_tree("H~2~O.\n\n" + FIXTURES["footnotes-out-of-order"], markdown)
    assert body.xpath("//sub/text()") == ["2"]
    notes = body.xpath("//div[@class='footnote']/ol/li")
    assert notes[0].xpath("string(.)").strip().startswith("The roll call")


def test_html_marked_for_md_in_html_is_left_to_that_extension():
    markdown = replace(ENGINES["python-markdown"],
                       extensions=ENGINES["python-markdown"].extensions + ("md_in_html",))
    body = render_tree('<div class="box" markdown="1">\n*inside*\n</div>\n', markdown)
    assert body.xpath("./div[@class='box']/p/em/text()") == ["inside"]


# --- site.toml --------------------------------------------------------------------------------

def config(markdown_toml: str):
    return parse_config(MINIMAL_CONFIG + "\n" + markdown_toml, Path("."))


def config_error(markdown_toml: str) -> str:
    with pytest.raises(BuildError) as caught:
        config(markdown_toml)
    return str(caught.value)


def test_the_default_engine_is_python_markdown_with_the_new_extensions():
    markdown = config("").markdown
    assert markdown.engine == "python-markdown"
    assert {"pymdownx.magiclink", "pymdownx.tilde", "pymdownx.saneheaders",
            "footnotes"} <= set(markdown.extensions)


def test_the_commonmark_engine_is_chosen_in_site_toml():
    markdown = config('[markdown]\nengine = "commonmark"\n').markdown
    assert markdown.engine == "commonmark"
    assert config('[markdown]\nengine = "commonmark"\nextensions = ["smarty", "footnotes"]\n')


def test_extension_options_are_read_as_tables():
    markdown = config('[markdown.extension_configs."pymdownx.tilde"]\nsubscript = true\n'
                      ).markdown
    assert markdown.extension_configs == {"pymdownx.tilde": {"subscript": True}}


@pytest.mark.parametrize("toml, expected", [
    ('[markdown]\nengine = "commonmarc"\n',
     ["markdown.engine 'commonmarc' is unknown", 'did you mean "commonmark"']),
    ('[markdown]\nengine = "commonmark"\nextensions = ["smarty", "attr_list"]\n',
     ["'attr_list' works only with engine = \"python-markdown\""]),
    ('[markdown]\nengine = "commonmark"\n[markdown.extension_configs.footnotes]\nx = 1\n',
     ["which engine = \"commonmark\" does not use"]),
    ('[markdown]\nextensions = ["footnotes", "pymdownx.tildee"]\n',
     ["'pymdownx.tildee' cannot be loaded", "install the package"]),
    ('[markdown.extension_configs."pymdownx.tilde"]\nsubscriptt = true\n',
     ["has no option 'subscriptt'", 'did you mean "subscript"']),
    ('[markdown.extension_configs.toc]\npermalink = true\n',
     ["names 'toc', which is not in markdown.extensions"]),
    ('[markdown]\nextension_configs = { footnotes = 3 }\n', ["must be a table of options"]),
    ('[markdown]\nengine = 2\n', ["'markdown.engine' must be text"]),
    ('[markdown.extension_configs.smarty]\nx = 1\n', ["'smarty' is done by Marginalia's own"]),
    ('[markdown]\nflavour = "gfm"\n', ["unknown key 'markdown.flavour'"]),
])
def test_a_bad_markdown_table_is_a_clear_error(toml, expected):
    message = config_error(toml)
    assert message.startswith("site.toml:") or "\nsite.toml:" in message or "site.toml" in message
    for part in expected:
        assert part in message


def test_an_error_names_the_line_in_site_toml():
    text = '[markdown]\nextensions = ["footnotes", "pymdownx.tildee"]\n'
    line = MINIMAL_CONFIG.count("\n") + 1 + 2
    assert f"site.toml:{line}:" in config_error(text)


def test_reading_site_toml_loads_no_markdown_extension_it_ships_with():
    """A build whose posts are all cached never imports Python-Markdown."""
    text = MINIMAL_CONFIG + '[markdown]\nextensions = ["smarty", "toc", "pymdownx.tilde"]\n'
    code = ("import sys; from pathlib import Path; from marginalia.config import parse_config;"
            f"parse_config({text!r}, Path('.'));"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('markdown', 'pymdownx')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=PROJECT_DIR, check=True)
    assert result.stdout.strip() == "[]"


def test_switching_engines_changes_the_parse_cache_fingerprint():
    python_markdown = config("")
    commonmark = config('[markdown]\nengine = "commonmark"\n')
    assert config_fingerprint(python_markdown) != config_fingerprint(commonmark)
    assert config_fingerprint(python_markdown) == config_fingerprint(config(""))
    options = config('[markdown.extension_configs."pymdownx.tilde"]\nsubscript = true\n')
    assert config_fingerprint(options) != config_fingerprint(python_markdown)
