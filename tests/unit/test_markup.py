"""Unit tests for marginalia.markup: Markdown to sanitised HTML, and what it refuses."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import lxml.etree
import lxml.html
import pytest

from marginalia.errors import ContentError
from marginalia.markup import line_of_link, render_markdown

EXTENSIONS = ("smarty", "footnotes", "tables", "fenced_code", "attr_list")
PATH = "content/posts/a.md"
BODY_LINE = 6  # the body of a post_text() post starts on line 6


def render(body: str, unsafe_html: bool = False) -> str:
    return render_markdown(body, EXTENSIONS, PATH, BODY_LINE, unsafe_html)


def fragment(html: str):
    return lxml.html.fragment_fromstring(html, create_parent="div")


def render_noting(body: str, **options) -> tuple[lxml.html.HtmlElement, list[tuple[str, int]]]:
    """Render body; return the HTML, parsed, and the warnings (message, line) it gave."""
    warnings: list[tuple[str, int]] = []
    html = render_markdown(body, EXTENSIONS, PATH, BODY_LINE, warnings=warnings, **options)
    return fragment(html), warnings


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
    assert text == "\u201cQuoted\u201d \u2014 it\u2019s here"


def test_the_en_dash_convention_is_passed_to_the_body():
    html = render_markdown("1990--2000 and a --- b\n", EXTENSIONS, PATH, BODY_LINE, dashes="en")
    assert fragment(html).text_content() == "1990\u20132000 and a \u2014 b"


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
def test_script_links_are_made_inert_with_a_warning(link):
    tree, warnings = render_noting(f"Intro line.\n\n{link}\n")
    assert not tree.xpath("//@href | //@src")
    assert tree.xpath("//a[not(@href)]/text() | //img[not(@src)]/@alt") == ["x"]
    [(message, _)] = warnings
    assert "removed, its text kept" in message
    assert re.search(r"a (javascript|vbscript|data): link can", message)


def test_angle_bracket_script_autolink_makes_no_link():
    # Python-Markdown reads <javascript:...> as a raw tag, which the sanitiser drops.
    tree = fragment(render("<javascript:alert(1)>\n"))
    assert not tree.xpath("//a") and "alert" not in tree.text_content()


@pytest.mark.parametrize("link", ["javascript:alert(1)", "jav&#x61;script:alert(1)"])
def test_an_inert_link_is_noted_at_its_line(link):
    _, [(_, line)] = render_noting(f"one\n\ntwo\n\nsee [x]({link})\n")
    assert line == BODY_LINE + 4


@pytest.mark.parametrize("link", [
    "tel:+15551234567", "sms:+15551234567", "irc://irc.libera.chat/python",
    "ftp://ftp.example.org/file.txt", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c",
    "webcal://example.org/events.ics", "geo:37.786971,-122.399677",
    "xmpp:editor@example.org", "mailto:editor@example.org"])
def test_the_sanitisers_own_schemes_stay_links(link):
    tree, warnings = render_noting(f"Call [us]({link}).\n")
    assert tree.xpath("//a/@href") == [link]
    assert warnings == []


def test_an_unknown_scheme_is_made_inert_with_a_suggestion():
    tree, [(message, line)] = render_noting("Write to\n\n[us](mail-to:reach@example.org).\n")
    assert tree.xpath("//a[not(@href)]/text()") == ["us"]
    assert line == BODY_LINE + 2
    assert "'mail-to:'" in message and 'did you mean "mailto"' in message


def test_unsafe_links_are_made_inert_without_the_sanitiser_too():
    tree, warnings = render_noting('[x](javascript:alert(1))\n\n'
                                   '<img alt="y" src="vbscript:x" srcset="data:x 1x">\n',
                                   unsafe_html=True)
    assert not tree.xpath("//@href | //@src | //@srcset")
    assert tree.xpath("//a/text() | //img/@alt") == ["x", "y"]
    assert [line for _, line in warnings] == [BODY_LINE, BODY_LINE + 2, BODY_LINE + 2]


# Characters XML 1.0 cannot hold: a feed writer refuses them.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@pytest.mark.parametrize("unsafe_html", [False, True], ids=["sanitised", "unsafe_html"])
@pytest.mark.parametrize("reference", ["&#0;", "&#7;", "&#x1b;", "&#xD800;", "&#xFFFF;",
                                       "&#x110000;", "&#99999999999999999999999;"])
def test_references_xml_cannot_hold_become_the_replacement_character(reference, unsafe_html):
    body = f"Intro.\n\nA {reference} B <abbr title='t{reference}'>t</abbr>\n"
    warnings: list[tuple[str, int]] = []
    html = render_markdown(body, EXTENSIONS, PATH, BODY_LINE, unsafe_html, warnings=warnings)
    assert not NOT_XML.search(html)
    tree = fragment(html)
    assert tree.xpath("string(//p[2])") == "A \ufffd B t"
    assert tree.xpath("//abbr/@title") == ["t\ufffd"]
    lxml.etree.Element("item").text = tree.text_content()  # what broke the feed writer
    [(message, line)] = warnings
    assert line == BODY_LINE + 2
    assert f"'{reference}'" in message and "2 character references" in message


def test_references_to_ordinary_characters_are_kept():
    tree, warnings = render_noting("Dashes &#150; &#x2014; and &#65;&#x10348;.\n")
    assert tree.text_content() == "Dashes \u2013 \u2014 and A\U00010348."
    assert warnings == []


def test_raw_characters_xml_cannot_hold_are_removed_with_a_warning():
    tree, [(message, line)] = render_noting("Intro.\n\nBad \x07 and \x1b here.\n")
    assert tree.xpath("string(//p[2])") == "Bad  and  here."
    assert line == BODY_LINE + 2
    assert "2 characters" in message and "U+0007" in message


def test_each_kind_the_sanitiser_removes_is_noted_once_at_its_first_line():
    body = ("Intro.\n\n"
            "<script>alert(1)</script>\n\n"
            "<p onclick='x()'>hi</p>\n\n"
            "<iframe src='https://e.org/'></iframe>\n\n"
            "<style>p { color: red }</style>\n\n"
            "<script>alert(2)</script>\n\n"
            "Text <img src=x onerror=alert(1)>\n")
    tree, warnings = render_noting(body)
    assert not tree.xpath("//script | //style | //iframe | //@onclick | //@onerror")
    lines = {message.split(" removed")[0]: line for message, line in warnings}
    assert lines == {"<script>": BODY_LINE + 2,
                     "event-handler attribute 'onclick'": BODY_LINE + 4,
                     "iframe of 'https://e.org/'": BODY_LINE + 6,
                     "<style>": BODY_LINE + 8}
    counted = [m for m, _ in warnings if "(2 in this file, the first on this line)" in m]
    assert len(counted) == 2


def test_a_pasted_page_gives_one_warning_per_kind():
    body = "".join(f"<p onclick='f({n})'>p</p>\n<script>s({n})</script>\n" for n in range(100))
    _, warnings = render_noting(body)
    assert [(m.split(" removed")[0], line) for m, line in warnings] == [
        ("event-handler attribute 'onclick'", BODY_LINE), ("<script>", BODY_LINE + 1)]
    assert all("(100 in this file" in m for m, _ in warnings)


def test_iframes_from_allowed_hosts_are_kept_without_a_warning():
    body = ("<iframe src='https://www.youtube-nocookie.com/embed/x'></iframe>\n\n"
            "<iframe src='http://www.youtube-nocookie.com/embed/y'></iframe>\n")
    tree, warnings = render_noting(body, iframe_hosts=("www.youtube-nocookie.com",))
    assert tree.xpath("//iframe/@src") == ["https://www.youtube-nocookie.com/embed/x"]
    [(message, line)] = warnings
    assert "http://www.youtube-nocookie.com/embed/y" in message and line == BODY_LINE + 2


def test_markup_shown_as_code_or_written_as_prose_gives_no_warning():
    body = ("Use `<script>` and `<a onclick=\"x\">`, not &amp;#0;.\n\n"
            "```\n<style>p {}</style>\n<iframe src=\"https://e.org/\"></iframe>\n```\n\n"
            "Set online=yes; see [the guide](javascript-guide/).\n")
    _, warnings = render_noting(body)
    assert warnings == []


def test_with_unsafe_html_nothing_is_removed_or_noted():
    tree, warnings = render_noting("<script>x()</script>\n\n<p onclick='x()'>hi</p>\n",
                                   unsafe_html=True)
    assert tree.xpath("//script") and tree.xpath("//p/@onclick")
    assert warnings == []


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



COMMENTARY = """\
The Japan Times:

> First quote.

First comment.

[Reuters](https://example.com/x):

> Second quote.

Second comment.
"""


@pytest.mark.parametrize("unsafe_html", [False, True], ids=["sanitised", "unsafe_html"])
def test_attributions_become_figure_captions_through_the_sanitiser(unsafe_html):
    tree = fragment(render(COMMENTARY, unsafe_html))
    figures = tree.xpath("figure")
    assert [f.get("class") for f in figures] == ["quote", "quote"]
    assert [f.xpath("string(figcaption[@class='attribution'])") for f in figures] == [
        "The Japan Times:", "Reuters:"]
    assert [f.xpath("string(blockquote/p)") for f in figures] == ["First quote.",
                                                                  "Second quote."]
    assert figures[1].xpath("figcaption/a/@href") == ["https://example.com/x"]
    assert tree.xpath("p/text()") == ["First comment.", "Second comment."]


@pytest.mark.parametrize("marker", ["\n{.attribution}", " {.attribution}", "\n{: .attribution}"])
def test_the_attribution_marker_works_and_never_shows(marker):
    html = render(f"As the ministry's spokesman put it.{marker}\n\n> Quoted.\n")
    tree = fragment(html)
    assert tree.xpath("string(figure/figcaption)") == "As the ministry\u2019s spokesman put it."
    assert tree.xpath("//p[contains(., 'spokesman')]") == []
    assert "{" not in html and tree.xpath("//*[@class='attribution']/@class") == ["attribution"]


@pytest.mark.parametrize("marker", ["\n{.lead-in}", " {.lead-in}"])
def test_the_lead_in_marker_keeps_a_paragraph_and_never_shows(marker):
    html = render(f"Reuters:{marker}\n\n> Quoted.\n")
    tree = fragment(html)
    assert tree.xpath("figure") == []
    assert [(p.text_content(), p.get("class")) for p in tree.xpath("p")] == [("Reuters:", None)]
    assert "{" not in html and "lead-in" not in html


def test_task_boxes_come_out_the_same_in_every_process():
    """The sanitiser adds a box's forced attributes in an order of its own choosing
    in each process; a build's bytes must not depend on which process parsed a post."""
    probe = ("from marginalia.markup import sanitize_html; print(sanitize_html("
             "'<ul><li><input type=\"checkbox\" checked> done</li><li><input> open</li></ul>'"
             ", ()))")
    outputs = {subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              check=True).stdout for _ in range(8)}
    assert outputs == {'<ul><li><input checked="" type="checkbox" disabled=""> done</li>'
                       '<li><input type="checkbox" disabled=""> open</li></ul>\n'}
