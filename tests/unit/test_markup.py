"""Unit tests for marginalia.markup: Markdown to sanitised HTML, and what it refuses."""

from __future__ import annotations

import time

import lxml.html
import pytest

from marginalia.errors import ContentError
from marginalia.markup import line_of_link, render_markdown, summarize

EXTENSIONS = ("smarty", "footnotes", "tables", "fenced_code", "attr_list")
PATH = "content/posts/a.md"
BODY_LINE = 6  # the body of a post_text() post starts on line 6


def render(body: str, unsafe_html: bool = False) -> str:
    return render_markdown(body, EXTENSIONS, PATH, BODY_LINE, unsafe_html)


def fragment(html: str):
    return lxml.html.fragment_fromstring(html, create_parent="div")


def refusal(body: str) -> ContentError:
    with pytest.raises(ContentError) as caught:
        render(body)
    return caught.value


def all_attributes(tree) -> list[tuple[str, str, str]]:
    return [(el.tag, name, value) for el in tree.iter() for name, value in el.attrib.items()]


def test_markdown_becomes_html():
    tree = fragment(render("Some *emphasis* and a [link](https://example.org/).\n\n"
                           "> quoted\n"))
    assert tree.xpath("string(//em)") == "emphasis"
    assert tree.xpath("//a/@href") == ["https://example.org/"]
    assert tree.xpath("string(//blockquote/p)") == "quoted"


def test_smart_quotes_and_dashes():
    text = fragment(render('"Quoted" -- it\'s here\n')).text_content()
    assert text == "\u201cQuoted\u201d \u2013 it\u2019s here"


def test_tables_and_fenced_code():
    tree = fragment(render("| a | b |\n|---|---|\n| 1 | 2 |\n\n```\n<b>x</b>\n```\n"))
    assert tree.xpath("//table/tbody/tr/td/text()") == ["1", "2"]
    assert tree.xpath("string(//pre/code)").strip() == "<b>x</b>"
    assert not tree.xpath("//pre//b")


def test_footnotes_do_not_leak_between_posts():
    first = fragment(render("a[^1]\n\n[^1]: first note\n"))
    second = fragment(render("b[^1]\n\n[^1]: second note\n"))
    assert "first note" in first.xpath("string(//div[@class='footnote'])")
    notes = second.xpath("string(//div[@class='footnote'])")
    assert "second note" in notes and "first note" not in notes
    assert len(second.xpath("//div[@class='footnote']//li")) == 1


def test_template_syntax_in_a_body_stays_literal():
    tree = fragment(render("Costs {{ 7*7 }} and {% if x %}y{% endif %}.\n"))
    assert tree.text_content() == "Costs {{ 7*7 }} and {% if x %}y{% endif %}."


def test_raw_script_and_event_handlers_are_removed():
    tree = fragment(render("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
                           "<p onclick='x()'>hi</p>\n\n<iframe src='https://e.org/'></iframe>\n\n"
                           "<svg onload=alert(1)></svg>\n\n[a](#x){: onclick=\"x()\" }\n"))
    assert not tree.xpath("//script | //iframe | //svg | //style")
    assert not [a for a in all_attributes(tree) if a[1].startswith("on")]
    assert "alert" not in tree.text_content()


def test_unsafe_html_option_keeps_raw_html():
    tree = fragment(render('<div class="embed" data-x="1">kept</div>\n', unsafe_html=True))
    assert tree.xpath("//div[@class='embed']/@data-x") == ["1"]


@pytest.mark.parametrize("link", [
    "[x](javascript:alert(1))",
    "[x](JavaScript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](jav&#x61;script:alert(1))",
    "[x](jav&#97;script:alert(1))",
    "[x](java&Tab;script:alert(1))",
    "[x](java\tscript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<a href='  JaVaScRiPt:alert(1)'>x</a>",
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    "![x](javascript:alert(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
])
def test_script_links_are_refused(link):
    error = refusal(f"Intro line.\n\n{link}\n")
    assert error.path == PATH
    assert "scheme that is not allowed" in error.message
    assert "use http, https, mailto or a relative link" in error.message


def test_angle_bracket_script_autolink_makes_no_link():
    # Python-Markdown reads <javascript:...> as a raw tag, which the sanitiser drops.
    tree = fragment(render("<javascript:alert(1)>\n"))
    assert not tree.xpath("//a") and "alert" not in tree.text_content()


def test_refused_link_names_its_line():
    error = refusal("one\n\ntwo\n\nsee [x](javascript:alert(1))\n")
    assert error.line == BODY_LINE + 4


def test_refused_entity_link_names_its_line():
    error = refusal("one\n\ntwo\n\nsee [x](jav&#x61;script:alert(1))\n")
    assert error.line == BODY_LINE + 4


@pytest.mark.parametrize("link", ["https://example.org/a?b=c#d", "http://example.org/",
                                  "mailto:editor@example.org", "../other.md", "img/a.png",
                                  "/about/", "#top", "?q=1", "javascript-guide/"])
def test_safe_links_pass(link):
    tree = fragment(render(f"[x]({link})\n"))
    assert tree.xpath("//a/@href") == [link]


def test_deep_nesting_is_refused_with_a_line():
    body = "Intro.\n\n" + "".join("  " * depth + "- item\n" for depth in range(120))
    started = time.monotonic()
    error = refusal(body)
    assert time.monotonic() - started < 2
    assert error.line > BODY_LINE
    assert "nested" in error.message


def test_deep_blockquotes_are_refused():
    assert "nested" in refusal("> " * 500 + "x\n").message


@pytest.mark.parametrize("body", ["[" * 5000 + "\n", "(" * 300 + "x" + ")" * 300 + "\n",
                                  "[]" * 200 + "\n"], ids=["open", "parens", "pairs"])
def test_long_bracket_runs_are_refused_quickly(body):
    started = time.monotonic()
    error = refusal(body)
    assert time.monotonic() - started < 2
    assert error.line == BODY_LINE
    assert "brackets" in error.message


@pytest.mark.parametrize("body", [
    "[](" * 3000 + "\n",
    "*" * 20000 + "\n",
    "_a " * 20000 + "\n",
    "<" * 20000 + "\n",
    "`" * 5000 + "\n",
    "1. " * 500 + "x\n",
    "[a]" * 5000 + "\n",
], ids=["link-openers", "stars", "underscores", "angles", "backticks", "list-markers",
        "references"])
def test_pathological_input_is_an_error_or_html_within_seconds(body):
    started = time.monotonic()
    try:
        html = render(body)
    except ContentError as error:
        assert error.path == PATH
    else:
        assert isinstance(html, str)
    assert time.monotonic() - started < 3


def test_line_of_link():
    text = "a\nb\nsee [x](../b.md)\n"
    assert line_of_link(text, "../b.md", 10) == 12
    assert line_of_link(text, "missing.md", 10) == 10


def test_summary_takes_the_first_paragraph_as_plain_text():
    assert summarize("<p>One <em>two</em> &amp; three.</p><p>Next.</p>") == "One two & three."


def test_summary_is_cut_at_forty_words():
    words = " ".join(f"w{i}" for i in range(60))
    summary = summarize(f"<p>{words}</p>")
    assert summary.split() == [f"w{i}" for i in range(39)] + ["w39\u2026"]
