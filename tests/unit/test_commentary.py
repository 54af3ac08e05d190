"""Unit tests for marginalia.commentary: attributions and summaries read from HTML."""

from __future__ import annotations

import lxml.html
import pytest

from marginalia.commentary import (MAX_ATTRIBUTION_WORDS, SUMMARY_LENGTH, is_attribution,
                                   mark_attributions, shorten, summarize)

# What Python-Markdown and CommonMark engines both produce for a quote.
QUOTE = "<blockquote>\n<p>Quoted.</p>\n</blockquote>"


def fragment(html: str):
    return lxml.html.fragment_fromstring(html, create_parent="div")


@pytest.mark.parametrize("text", [
    "The Japan Times:", "Reuters:", "U.S. Forces Korea:", "Mr. Kim, in Pyongyang:",
    "The Korea Herald, in an editorial on Tuesday:",
    " ".join(["word"] * MAX_ATTRIBUTION_WORDS) + ":",
])
def test_a_short_line_ending_with_a_colon_is_an_attribution(text):
    assert is_attribution(text)


@pytest.mark.parametrize("text", [
    "The Japan Times",  # no colon
    " ".join(["word"] * (MAX_ATTRIBUTION_WORDS + 1)) + ":",
    "He said it best. Reuters:",  # a sentence ends before the colon
    "It isn't over. The Times:",
    "Here is what the minister told reporters in Tokyo on Tuesday about the plan:",
])
def test_a_sentence_or_a_long_lead_in_is_not_an_attribution(text):
    assert not is_attribution(text)


def test_an_attribution_and_its_quote_become_a_figure():
    html = mark_attributions(f"<p>The Japan Times:</p>\n{QUOTE}\n<p>Comment.</p>")
    tree = fragment(html)
    [figure] = tree.xpath("figure[@class='quote']")
    assert [child.tag for child in figure] == ["figcaption", "blockquote"]
    assert figure.xpath("string(figcaption[@class='attribution'])") == "The Japan Times:"
    assert tree.xpath("p/text()") == ["Comment."]


def test_a_paragraph_is_an_attribution_only_right_before_a_quote():
    html = f"<p>Reuters:</p>\n<p>Then words.</p>\n{QUOTE}"
    assert mark_attributions(html) == html


def test_a_long_lead_in_stays_a_paragraph():
    lead_in = "<p>Here is what the minister told reporters in Tokyo on Tuesday about it:</p>"
    html = f"{lead_in}\n{QUOTE}"
    assert mark_attributions(html) == html


def test_quotes_inside_quotes_keep_their_own_attributions():
    inner = f"<p>Reuters:</p>\n{QUOTE}"
    html = mark_attributions(f"<p>The Times:</p>\n<blockquote>\n{inner}\n</blockquote>")
    tree = fragment(html)
    assert tree.xpath("figure/figcaption/text()") == ["The Times:"]
    assert tree.xpath("figure/blockquote/figure/figcaption/text()") == ["Reuters:"]
    assert tree.xpath("string(figure/blockquote/figure/blockquote/p)") == "Quoted."


def test_markers_as_classes_are_read_and_removed():
    html = mark_attributions(f'<p class="attribution big" id="src">Long. Very long.</p>\n{QUOTE}'
                             f'\n<p class="lead-in">Reuters:</p>\n{QUOTE}')
    tree = fragment(html)
    [caption] = tree.xpath("figure/figcaption")
    assert (caption.get("class"), caption.get("id"), caption.text) == (
        "attribution big", "src", "Long. Very long.")
    assert [(p.text, p.attrib) for p in tree.xpath("p")] == [("Reuters:", {})]


def test_a_marker_without_a_quote_after_it_is_removed():
    html = mark_attributions('<p>Plain words {.attribution}</p>\n<p class="lead-in">More</p>')
    assert html == "<p>Plain words</p>\n<p>More</p>"


def test_html_without_quotes_or_markers_is_returned_as_it_is():
    html = "<p>Reuters:</p><ul><li>One</li></ul>"
    assert mark_attributions(html) is html


def test_the_summary_is_the_first_paragraph_of_commentary():
    body = mark_attributions(
        f"<p>Reuters:</p>\n{QUOTE}\n<h2>Why</h2>\n<pre><code>x</code></pre>\n"
        "<ul>\n<li><p>A list.</p></li>\n</ul>\n"
        f"<p>Said so:</p>\n{QUOTE}\n"
        "<p>One <em>two</em> &amp; three.</p>\n<p>Next.</p>")
    assert summarize(body) == "One two & three."


def test_a_post_of_quotes_alone_has_no_summary():
    assert summarize(mark_attributions(f"<p>Reuters:</p>\n{QUOTE}")) == ""
    assert summarize(f'{QUOTE}<div class="footnote"><ol><li><p>Note.</p></li></ol></div>') == ""


def test_a_long_summary_is_cut_at_its_last_sentence_within_the_limit():
    first, second = "The first sentence is short.", "The second one ends here too."
    text = f"{first} {second} " + "and then it goes on " * 20
    assert shorten(text) == f"{first} {second}"
    assert summarize(f"<p>{text}</p>") == f"{first} {second}"


def test_a_summary_without_a_sentence_end_is_cut_at_a_word():
    words = " ".join(f"w{i}" for i in range(100))
    summary = shorten(words)
    assert len(summary) <= SUMMARY_LENGTH and summary.endswith("\u2026")
    assert words.startswith(summary[:-1] + " ")


def test_abbreviations_are_not_sentence_ends():
    text = "The U.S. envoy met Mr. Kim in Jan. and said " + "more words " * 30
    assert shorten(text).endswith("\u2026")


def test_a_short_summary_is_kept_whole():
    assert shorten("Short. And sweet") == "Short. And sweet"
