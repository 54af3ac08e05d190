"""Hostile input: text an editor types never becomes markup, in pages or feeds, and
no string a post holds can crash the feed writer or make a feed unreadable."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import html5lib
import lxml.etree
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import MINIMAL_CONFIG, blog_files, build_in_process, post_text, write_site
from marginalia.typography import smarten_plain

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
CHARACTER_REFERENCES = "&#0; &#7; &#x1b; &#xD800; &#xFFFF; &#x10FFFF; &#1114112;"


def needle(field: str) -> str:
    """Text that becomes an element, an event handler or a broken-out attribute if
    any template or feed lets it through as markup; each names its field."""
    return (f"{field} <i id=needle-{field}>x</i> <img src=x onerror=alert('{field}')> "
            f"&lt;b&gt; & \"q\" 'a' \" onmouseover=\"alert('{field}')")


# Prose fields get the body's typography: their quotes are curled, as characters.
TYPESET = {"site-title", "site-description", "section-description", "title", "dek",
           "page-title", "page-description"}


def shown(field: str) -> str:
    """The needle of a field as a reader sees it."""
    return smarten_plain(needle(field)) if field in TYPESET else needle(field)


def quoted(text: str) -> str:
    """A double-quoted scalar that both YAML and TOML read back as text."""
    return json.dumps(text, ensure_ascii=False)  # YAML refuses escaped surrogate pairs


SITE_TOML = f"""\
title = {quoted(needle("site-title"))}
description = {quoted(needle("site-description"))}
base_url = "https://example.org/"
language = {quoted(needle("language"))}
publisher = {quoted(needle("publisher"))}
author = {quoted(needle("site-author"))}

[[footer_links]]
label = {quoted(needle("footer-label"))}
url = "/about/"

[[sections]]
name = {quoted(needle("section"))}
description = {quoted(needle("section-description"))}

[comments]
provider = "giscus"

[comments.giscus]
repo = "example/comments"
repo_id = "R_1"
category = {quoted(needle("giscus-category"))}
category_id = "C_1"
"""

FULL_POST = f"""\
---
title: {quoted(needle("title"))}
section: {quoted(needle("section"))}
date: 2016-06-29T16:40:00-04:00
dek: {quoted(needle("dek"))}
author: {quoted(needle("author"))}
tags: [{quoted(needle("tag"))}]
sources:
  - name: {quoted(needle("source"))}
    url: https://example.com/
aliases: [/old/]
---
The commentary.
"""

# No dek and no author: the summary comes from the body, the byline from site.toml.
BARE_POST = f"""\
---
title: "Plain"
section: {quoted(needle("section"))}
date: 2016-06-28T09:00:00-04:00
---
Opening words {CHARACTER_REFERENCES} end.
"""

ABOUT_PAGE = f"""\
---
title: {quoted(needle("page-title"))}
description: {quoted(needle("page-description"))}
---
Who we are.
"""

SHOWN_AS_TEXT = ["site-title", "site-description", "publisher", "site-author",
                 "footer-label", "section", "section-description", "title", "dek", "author",
                 "tag", "source", "page-title"]
SHOWN_IN_ATTRIBUTES = ["language", "giscus-category", "page-description"]


@pytest.fixture(scope="module")
def hostile_output(tmp_path_factory) -> Path:
    root = write_site(tmp_path_factory.mktemp("hostile") / "site", {
        "site.toml": SITE_TOML, "content/posts/full.md": FULL_POST,
        "content/posts/bare.md": BARE_POST, "content/pages/about.md": ABOUT_PAGE})
    result = build_in_process(root)
    assert result.returncode == 0, result.stderr
    return root / "output"


def output_files(output: Path, suffix: str) -> list[Path]:
    return sorted(p for p in output.rglob(f"*{suffix}") if p.is_file())


def parse_page(data: bytes | str):
    return html5lib.parse(data, treebuilder="etree", namespaceHTMLElements=False)


def parse_fragment(text: str):
    """Parse an HTML-typed feed field as a reader renders it."""
    return html5lib.parseFragment(text, treebuilder="etree", namespaceHTMLElements=False)


def injected(root) -> list[str]:
    """Every element or attribute that only a needle could have made."""
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # a comment
        if element.get("id", "").startswith("needle"):
            found.append(f"<{element.tag} id={element.get('id')}>")
        found += [f"<{element.tag} {name}>" for name in element.attrib
                  if name.startswith("on") or "needle" in name or name in {"'a'", '"q"'}]
    return found


def visible_text(root) -> str:
    return "".join(root.itertext())


def attribute_values(root) -> set[str]:
    return {value for element in root.iter() for value in element.attrib.values()}


def html_fields_of_feed(root) -> list[str]:
    """The fields of an RSS or Atom feed that readers render as HTML."""
    if root.tag == "rss":
        return [e.text or "" for e in root.iter("description", CONTENT_ENCODED)]
    return [e.text or "" for e in root.iter(f"{ATOM}summary", f"{ATOM}content",
                                             f"{ATOM}subtitle", f"{ATOM}title",
                                             f"{ATOM}rights")
            if e.get("type") == "html"]


def test_no_needle_becomes_markup_in_any_page(hostile_output):
    pages = output_files(hostile_output, ".html")
    assert len(pages) >= 10
    texts, attributes = [], set()
    for path in pages:
        root = parse_page(path.read_bytes())
        assert injected(root) == [], path
        texts.append(visible_text(root))
        attributes |= attribute_values(root)
    text = "\n".join(texts)
    for field in SHOWN_AS_TEXT:
        assert shown(field) in text, field
    for field in SHOWN_IN_ATTRIBUTES:
        assert any(shown(field) in value for value in attributes), field


def test_json_ld_holds_the_fields_as_text(hostile_output):
    pages = output_files(hostile_output, ".html")
    [post_page] = [p for p in pages if p.parent.name == "full"]
    root = parse_page(post_page.read_bytes())
    [script] = [s for s in root.iter("script") if s.get("type") == "application/ld+json"]
    data = json.loads(script.text)
    assert (data["headline"], data["description"]) == (shown("title"), shown("dek"))
    assert data["author"]["name"] == needle("author")
    assert data["publisher"]["name"] == needle("publisher")
    assert data["articleSection"] == needle("section")
    assert data["keywords"] == [needle("tag")]
    assert [c["name"] for c in data["citation"]] == [needle("source")]


def test_no_needle_becomes_markup_in_rss_or_atom(hostile_output):
    feeds = [p for p in output_files(hostile_output, ".xml") if p.name != "sitemap.xml"]
    assert {p.name for p in feeds} == {"feed.xml", "atom.xml"} and len(feeds) == 6
    for path in feeds:
        root = lxml.etree.fromstring(path.read_bytes())
        texts = []
        for field in html_fields_of_feed(root):
            fragment = parse_fragment(field)
            assert injected(fragment) == [], path
            texts.append(visible_text(fragment))
        if root.tag == "rss":
            assert shown("dek") in texts, path
            channel = texts[0]  # the site's, section's or tag's description
            assert any(shown(field) in channel
                       for field in ("site-description", "section-description", "tag")), path
            assert shown("title") in [t.text for t in root.iter("title")], path
        else:
            assert shown("dek") in [s.text for s in root.iter(f"{ATOM}summary")], path
            assert shown("title") in [t.text for t in root.iter(f"{ATOM}title")], path


def test_no_needle_becomes_markup_in_the_json_feed(hostile_output):
    feed = json.loads((hostile_output / "feed.json").read_text(encoding="utf-8"))
    html_fields = [value for item in feed["items"] for key, value in item.items()
                   if key.endswith("_html")]
    assert html_fields
    for field in html_fields:
        assert injected(parse_fragment(field)) == []
    full = next(item for item in feed["items"] if item["title"] == shown("title"))
    assert full["summary"] == shown("dek")
    assert feed["title"] == shown("site-title")


def test_character_references_xml_cannot_hold_leave_every_feed_well_formed(hostile_output):
    for path in output_files(hostile_output, ".xml"):
        lxml.etree.fromstring(path.read_bytes())
    feed = json.loads((hostile_output / "feed.json").read_text(encoding="utf-8"))
    bare = next(item for item in feed["items"] if item["title"] == "Plain")
    assert "Opening words" in bare["content_html"]
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]",
                         bare["content_html"])


def test_control_characters_in_site_toml_become_replacement_characters_in_feeds(tmp_path):
    config = MINIMAL_CONFIG.replace('"A blog for tests"', '"A \\u0007 blog \\u001b"')
    root = write_site(tmp_path / "site", blog_files({"site.toml": config,
                                                     "content/posts/a.md": post_text()}))
    result = build_in_process(root)
    assert result.returncode == 0, result.stderr
    output = root / "output"
    rss = lxml.etree.fromstring((output / "feed.xml").read_bytes())
    atom = lxml.etree.fromstring((output / "atom.xml").read_bytes())
    feed = json.loads((output / "feed.json").read_text(encoding="utf-8"))
    assert (rss.findtext("channel/description"), atom.findtext(f"{ATOM}subtitle"),
            feed["description"]) == ("A \ufffd blog \ufffd",) * 3


# Random text for the fuzz test: character references to anything (surrogates and
# noncharacters included), markup, YAML punctuation, long runs; and, in the wilder
# half, raw control characters, lone surrogates and noncharacters.
printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
references = st.one_of(
    st.sampled_from(["&#0;", "&#7;", "&#x1b;", "&#xD800;", "&#xFFFF;", "&#x10FFFF;"]),
    st.integers(0, 0x110010).map(lambda n: f"&#{n};"),
    st.integers(0, 0x110010).map(lambda n: f"&#x{n:x};"))
markup = st.sampled_from(["<", ">", "&", '"', "'", ":", "#", "---", "]]>", "\n", "\t",
                          "<i id=needle>", "<img src=x onerror=alert(1)>", "&lt;b&gt;"])
raw = st.sampled_from(["\x00", "\x07", "\x1b", "\x85", "\r", "\ud800", "\udfff", "\ufdd0",
                       "\ufffe", "\uffff", "\U0010ffff"]) | st.characters(codec=None)


def long_runs(characters):
    return st.tuples(characters, st.integers(200, 3000)).map(lambda t: t[0] * t[1])


tame_text = st.lists(st.one_of(printable, references, markup, long_runs(printable)),
                     max_size=12).map("".join)
wild_text = st.lists(st.one_of(printable, references, markup, raw, long_runs(raw)),
                     max_size=12).map("".join)
random_text = tame_text | wild_text
LOCATED = re.compile(r"content/posts/p\.md:\d+")


def fuzzed_post(title: str, dek: str, body: str, quote: bool) -> bytes:
    """A post with the random text in its title, dek and body, quoted or written bare;
    the title starts with a word, or most titles would make no slug."""
    value = quoted if quote else str
    text = (f"---\ntitle: {value('A ' + title)}\nsection: North Korea Fallout\n"
            f"date: 2016-06-29T16:40:00-04:00\ndek: {value(dek)}\n---\n{body}")
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate is a bad byte on disk


def assert_readable_output(output: Path) -> None:
    for path in output_files(output, ".xml"):
        lxml.etree.fromstring(path.read_bytes())
    for path in output_files(output, ".json"):
        json.loads(path.read_text(encoding="utf-8"))
    for path in output_files(output, ".html"):
        for script in parse_page(path.read_bytes()).iter("script"):
            if script.get("type") == "application/ld+json":
                json.loads(script.text)


# Each example is a whole build: shrinking is skipped to keep the file quick.
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random_text, random_text, random_text, st.sampled_from([True, True, False]))
def test_random_text_builds_readable_feeds_or_fails_with_a_location(title, dek, body, quote):
    with tempfile.TemporaryDirectory() as folder:
        post = fuzzed_post(title, dek, body, quote)
        root = write_site(Path(folder), blog_files({"content/posts/p.md": post}))
        result = build_in_process(root)
        assert "Traceback" not in result.stderr
        if result.returncode == 0:
            assert_readable_output(root / "output")
        else:
            assert result.returncode == 1, result.stderr
            assert LOCATED.search(result.stderr), result.stderr
