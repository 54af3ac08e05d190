"""End-to-end: what a real post gets wrong in its links or raw HTML is a warning with its
file and line, never a failed build; --strict makes each warning an error."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import lxml.etree
import lxml.html
import pytest

from conftest import build_in_process, cli, parse_html, post_text, tree_snapshot
from marginalia.cli import main

POST = "content/posts/a.md"
PAGE = "2016/06/29/a/index.html"
BODY_LINE = 6  # the first body line of a post_text() post
XML_FILES = ("feed.xml", "atom.xml", "north-korea-fallout/feed.xml",
             "north-korea-fallout/atom.xml")
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"


def warnings_in(stderr: str) -> list[str]:
    return [line.removeprefix("warning: ") for line in stderr.splitlines()
            if line.startswith("warning: ")]


def post_body(output: Path):
    [body] = parse_html(output / PAGE).xpath("//*[contains(@class, 'post-body')]")
    return body


def feed_body(output: Path):
    """The post's HTML as the RSS feed carries it, parsed (feedparser would sanitise it)."""
    [content] = lxml.etree.parse(str(output / "feed.xml")).iter(CONTENT_ENCODED)
    return lxml.html.fragment_fromstring(content.text, create_parent="div")


def build(make_blog, body: str):
    site = make_blog({POST: post_text(body=body)})
    return site, build_in_process(site)


def strict_failure_at(site: Path, line: int) -> str:
    """Build with --strict, which must fail and leave the output as it was; return the
    one problem reported at POST:line."""
    output = site / "output"
    before = tree_snapshot(output) if output.exists() else None
    result = build_in_process(site, "--strict")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "nothing was written" in result.stderr
    assert (tree_snapshot(output) if output.exists() else None) == before
    [message] = [m for m in result.stderr.splitlines()
                 if re.match(rf"(\d+\. )?{POST}:{line}: ", m)]
    return message


# --- link schemes ----------------------------------------------------------------------

ORDINARY_LINKS = ["tel:+15551234567", "sms:+15551234567", "irc://irc.libera.chat/python",
                  "ftp://ftp.example.org/report.pdf", "magnet:?xt=urn:btih:c12fe1c06bba254a",
                  "webcal://example.org/events.ics", "geo:37.786971,-122.399677",
                  "xmpp:editor@example.org", "mailto:editor@example.org"]


def test_links_with_the_sanitisers_schemes_build_as_links(make_blog):
    body = "".join(f"Reach [us {n}]({link}).\n\n" for n, link in enumerate(ORDINARY_LINKS))
    site, result = build(make_blog, body)
    assert result.returncode == 0, result.stderr
    assert warnings_in(result.stderr) == []
    output = site / "output"
    assert post_body(output).xpath(".//a/@href") == ORDINARY_LINKS
    assert feed_body(output).xpath("//a/@href") == ORDINARY_LINKS


@pytest.mark.parametrize("link, why", [
    ("mail-to:reach@example.org", "'mail-to:' is not a scheme browsers know (did you mean "
                                  '"mailto"?)'),
    ("javascript:alert(1)", "a javascript: link can run code"),
    ("vbscript:msgbox(1)", "a vbscript: link can run code"),
    ("data:text/html;base64,PHNjcmlwdD4=", "a data: link can carry a whole page or script"),
])
def test_a_link_with_a_bad_scheme_is_made_inert_with_a_warning(make_blog, link, why):
    site, result = build(make_blog, f"Intro.\n\nWrite to [us]({link}) today.\n")
    assert result.returncode == 0, result.stderr
    assert warnings_in(result.stderr) == [
        f"{POST}:{BODY_LINE + 2}: link '{link}' removed, its text kept: {why}; use http, "
        "https, mailto, tel or a relative link"]
    output = site / "output"
    for html in (post_body(output), feed_body(output)):
        assert html.xpath("string(.//p[2])") == "Write to us today."
        assert html.xpath(".//a[not(@href)]/text()") == ["us"]
        assert not html.xpath(".//a/@href")


@pytest.mark.parametrize("link", ["mail-to:reach@example.org", "javascript:alert(1)"])
def test_a_link_with_a_bad_scheme_fails_a_strict_build(make_blog, link):
    message = strict_failure_at(make_blog({POST: post_text(body=f"Intro.\n\n[us]({link})\n")}),
                                BODY_LINE + 2)
    assert f"link '{link}' removed" in message


# --- links to Markdown files that are not published ------------------------------------

def test_a_link_to_a_missing_post_is_a_warning_for_each_file(make_blog):
    site = make_blog({POST: post_text(body="One.\n\nSee [x](../nope.md).\n"),
                      "content/posts/b.md": post_text(title="B", body="[y](gone.md#part)\n")})
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert sorted(warnings_in(result.stderr)) == [
        f"{POST}:{BODY_LINE + 2}: link to '../nope.md': content/nope.md does not exist; fix "
        "the path or remove the link",
        "content/posts/b.md:6: link to 'gone.md#part': content/posts/gone.md does not "
        "exist; fix the path or remove the link"]
    assert post_body(site / "output").xpath(".//a/text()") == ["x"]


def test_a_link_to_a_missing_post_fails_a_strict_build(make_blog):
    site = make_blog({POST: post_text(body="One.\n\nSee [x](../nope.md).\n")})
    message = strict_failure_at(site, BODY_LINE + 2)
    assert "content/nope.md does not exist" in message


def test_a_link_to_a_draft_is_a_warning_until_drafts_are_built(make_blog):
    draft = post_text(title="Draft", draft="true")
    site = make_blog({POST: post_text(body="See [the draft](draft.md).\n"),
                      "content/posts/draft.md": draft})
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert warnings_in(result.stderr) == [
        f"{POST}:{BODY_LINE}: link to 'draft.md': content/posts/draft.md is a draft or not "
        "yet published; fix the path or remove the link"]
    assert "is a draft" in strict_failure_at(site, BODY_LINE)
    result = build_in_process(site, "--drafts", "--strict")
    assert result.returncode == 0, result.stderr
    assert post_body(site / "output").xpath(".//a/@href") == ["/2016/06/29/draft/"]


# --- characters XML cannot hold --------------------------------------------------------

def assert_well_formed(output: Path) -> None:
    for name in XML_FILES:
        lxml.etree.parse(str(output / name))  # raises on any character XML cannot hold
    json.loads((output / "feed.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("reference", ["&#0;", "&#7;", "&#x1b;", "&#xD800;", "&#xFFFF;"])
def test_a_character_reference_xml_cannot_hold_builds_well_formed_feeds(make_blog, reference):
    site, result = build(make_blog, f"Intro.\n\nA {reference} B\n")
    assert result.returncode == 0, result.stderr
    [warning] = warnings_in(result.stderr)
    assert warning.startswith(f"{POST}:{BODY_LINE + 2}: the character reference "
                              f"'{reference}' stands for a character")
    output = site / "output"
    assert_well_formed(output)
    for html in (post_body(output), feed_body(output)):
        assert html.xpath("string(.//p[2])") == "A \ufffd B"
    [item] = json.loads((output / "feed.json").read_text(encoding="utf-8"))["items"]
    assert "A \ufffd B" in item["content_html"]


def test_raw_characters_xml_cannot_hold_are_removed_with_a_warning(make_blog):
    site, result = build(make_blog, "Intro.\n\nA \x07 B \x1b C\n")
    assert result.returncode == 0, result.stderr
    [warning] = warnings_in(result.stderr)
    assert warning.startswith(f"{POST}:{BODY_LINE + 2}: removed 2 characters")
    assert_well_formed(site / "output")
    assert post_body(site / "output").xpath("string(.//p[2])") == "A  B  C"


def test_a_character_reference_fails_a_strict_build(make_blog):
    message = strict_failure_at(make_blog({POST: post_text(body="Intro.\n\nA &#7; B\n")}),
                                BODY_LINE + 2)
    assert "'&#7;'" in message


# --- what the sanitiser removes ---------------------------------------------------------

PASTED = ("Intro.\n\n"                                              # line 6
          "<script src='https://ads.example/x.js'></script>\n\n"   # 8
          "<style>.ad { display: none }</style>\n\n"                # 10
          "<p onclick='track()'>Read on.</p>\n\n"                   # 12
          "<iframe src='https://ads.example/frame'></iframe>\n\n"   # 14
          + "<script>track()</script>\n"
            "<img src='https://ads.example/a.png' alt='' onload='track()'>\n\n" * 50)


def test_each_kind_the_sanitiser_removes_is_one_warning_at_its_line(make_blog):
    site, result = build(make_blog, PASTED)
    assert result.returncode == 0, result.stderr
    located = {re.sub(r" removed.*", "", w): w for w in warnings_in(result.stderr)}
    assert sorted(located) == [
        f"{POST}:10: <style>", f"{POST}:12: event-handler attribute 'onclick'",
        f"{POST}:14: iframe of 'https://ads.example/frame'", f"{POST}:8: <script>"]
    assert "(51 in this file, the first on this line)" in located[f"{POST}:8: <script>"]
    body = post_body(site / "output")
    assert not body.xpath(".//script | .//style | .//iframe | .//@onclick | .//@onload")
    assert body.xpath("string(.//p[2])") == "Read on."


def test_what_the_sanitiser_removes_fails_a_strict_build(make_blog):
    site = make_blog({POST: post_text(body="Intro.\n\n<script>x()</script>\n")})
    message = strict_failure_at(site, BODY_LINE + 2)
    assert "<script> removed" in message


def test_check_reports_what_a_build_only_warns_of(make_blog):
    """check validates what a publish with --strict would: each warning is a problem."""
    site = make_blog({POST: post_text(body="Write [to us](mail-to:desk@example.org).\n\n"
                                            "<script>track()</script>\n")})
    assert build_in_process(site).returncode == 0
    with contextlib.redirect_stderr(io.StringIO()) as stderr, \
            contextlib.redirect_stdout(io.StringIO()):
        code = main(["check", "--site", str(site), "--now", "2030-01-01T00:00:00Z"])
    errors = [line for line in stderr.getvalue().splitlines() if f"{POST}:" in line]
    assert code == 1
    assert any("mail-to:" in line and f"{POST}:{BODY_LINE}:" in line for line in errors)
    assert any("<script> removed" in line for line in errors)


# --- drafts ------------------------------------------------------------------------------

BROKEN_DRAFT = post_text(title="Not Yet", section="North Korea Falout", draft="true",
                         body="See [the old post](gone.md).\n")


def test_a_draft_with_a_mistyped_section_never_stops_a_build_that_leaves_it_out(make_blog):
    site = make_blog({POST: post_text(), "content/posts/draft.md": BROKEN_DRAFT})
    for flags in ((), ("--strict",)):
        result = build_in_process(site, *flags)
        assert result.returncode == 0, result.stderr
        [warning] = [w for w in warnings_in(result.stderr) if "draft.md" in w]
        assert warning.startswith("content/posts/draft.md:3: ") and "--drafts" in warning
    code, _, stderr = cli("check", "--site", str(site), "--now", "2030-01-01T00:00:00Z")
    assert code == 0 and "content/posts/draft.md:3: " in stderr


def test_a_build_or_check_with_drafts_counts_a_drafts_problems_as_errors(make_blog):
    site = make_blog({POST: post_text(), "content/posts/draft.md": BROKEN_DRAFT})
    result = build_in_process(site, "--drafts")
    assert result.returncode == 1 and "content/posts/draft.md:3: " in result.stderr
    code, _, stderr = cli("check", "--drafts", "--site", str(site),
                          "--now", "2030-01-01T00:00:00Z")
    assert code == 1 and "content/posts/draft.md:3: " in stderr
    fixed = BROKEN_DRAFT.replace("Falout", "Fallout")
    (site / "content/posts/draft.md").write_text(fixed, encoding="utf-8")
    code, _, stderr = cli("check", "--drafts", "--site", str(site),
                          "--now", "2030-01-01T00:00:00Z")
    assert code == 1 and "gone.md" in stderr  # the draft's broken link, now checked
