"""Every feed of the demo is valid for strict readers, not only for lenient feedparser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import lxml.etree as etree
import lxml.html
import pytest

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
NS = {"atom": ATOM, "content": CONTENT}
RFC822_NUMERIC_ZONE = re.compile(r"^(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} "
                                 r"\d{2}:\d{2}(?::\d{2})? [+-]\d{4}$")
URL_ATTRIBUTES = ("href", "src", "poster", "cite")


@dataclass(frozen=True)
class Feed:
    rel_path: str
    kind: str  # "rss", "atom" or "json"
    data: bytes
    url: str  # where the feed is published


def feed_kind(path: Path) -> str | None:
    """Tell a feed's format from its content, or None for other XML and JSON files."""
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            version = json.loads(data).get("version", "")
        except (ValueError, AttributeError):
            return None
        return "json" if str(version).startswith("https://jsonfeed.org/version/") else None
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError:
        return "unparsable"
    return {"rss": "rss", f"{{{ATOM}}}feed": "atom"}.get(root.tag)


def find_feeds(output: Path, base_url: str) -> list[Feed]:
    feeds = []
    for path in sorted([*output.rglob("*.xml"), *output.rglob("*.json")]):
        kind = feed_kind(path)
        if kind:
            rel_path = path.relative_to(output).as_posix()
            feeds.append(Feed(rel_path, kind, path.read_bytes(), base_url + rel_path))
    return feeds


@pytest.fixture(scope="module")
def feeds(demo_output: Path, demo_base_url: str) -> list[Feed]:
    found = find_feeds(demo_output, demo_base_url)
    assert any(f.rel_path == "feed.xml" and f.kind == "rss" for f in found), \
        "the demo has no RSS feed at /feed.xml"
    return found


def is_absolute_http(url: str | None) -> bool:
    parts = urlsplit((url or "").strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def html_urls(fragment: str) -> Iterator[str]:
    """Yield every URL that an HTML fragment links to or loads."""
    if not fragment or not fragment.strip():
        return
    tree = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name in URL_ATTRIBUTES:
            if element.get(name) is not None:
                yield element.get(name)
        for candidate in (element.get("srcset") or "").split(","):
            if candidate.strip():
                yield candidate.split()[0]


def check_rfc822(value: str | None, what: str, problems: list[str]) -> datetime | None:
    if not value:
        problems.append(f"{what} is missing")
        return None
    value = value.strip()
    if not RFC822_NUMERIC_ZONE.match(value):
        problems.append(f"{what} '{value}' is not RFC 822 with a numeric zone (+0000)")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        problems.append(f"{what} '{value}' does not parse as an RFC 822 date")
        return None
    if moment.tzinfo is None:
        problems.append(f"{what} '{value}' has no time zone")
        return None
    return moment


def check_rfc3339(value: str | None, what: str, problems: list[str]) -> datetime | None:
    if not value:
        problems.append(f"{what} is missing")
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"{what} '{value}' is not an RFC 3339 date")
        return None
    if moment.tzinfo is None:
        problems.append(f"{what} '{value}' has no time zone")
        return None
    return moment


def check_content_links(html_text: str | None, what: str, problems: list[str],
                        allow_fragments: bool) -> None:
    for url in html_urls(html_text or ""):
        if allow_fragments and url.startswith("#"):
            continue
        if not (is_absolute_http(url) or url.startswith("mailto:")):
            problems.append(f"{what} links to '{url}', not an absolute http(s) URL")


def check_order(dates: list[datetime | None], what: str, problems: list[str]) -> None:
    known = [d for d in dates if d is not None]
    if known != sorted(known, reverse=True):
        problems.append(f"{what} are not newest first: {[d.isoformat() for d in known]}")


def check_unique(ids: list[str | None], what: str, problems: list[str]) -> None:
    seen = set()
    for value in ids:
        if value in seen:
            problems.append(f"duplicate {what} '{value}'")
        seen.add(value)


def text_of(element, path: str) -> str | None:
    found = element.find(path, NS)
    return found.text if found is not None else None


def check_rss(feed: Feed, allow_fragments: bool = True) -> list[str]:
    problems: list[str] = []
    channel = etree.fromstring(feed.data).find("channel")
    if channel is None:
        return ["no <channel>"]
    for name in ("title", "description"):
        if not (text_of(channel, name) or "").strip():
            problems.append(f"channel <{name}> is missing or empty")
    if not is_absolute_http(text_of(channel, "link")):
        problems.append(f"channel <link> '{text_of(channel, 'link')}' is not absolute")
    self_links = [l.get("href") for l in channel.findall("atom:link", NS) if l.get("rel") == "self"]
    if self_links != [feed.url]:
        problems.append(f"atom:link rel=self is {self_links}, expected ['{feed.url}']")
    items = channel.findall("item")
    if items or channel.find("lastBuildDate") is not None:
        check_rfc822(text_of(channel, "lastBuildDate"), "channel lastBuildDate", problems)
    if channel.find("pubDate") is not None:
        check_rfc822(text_of(channel, "pubDate"), "channel pubDate", problems)
    dates, guids = [], []
    for number, item in enumerate(items, start=1):
        what = f"item {number}"
        link = (text_of(item, "link") or "").strip()
        if not (text_of(item, "title") or "").strip():
            problems.append(f"{what} has no title")
        if not is_absolute_http(link):
            problems.append(f"{what} link '{link}' is not an absolute http(s) URL")
        # A linked post's <link> is the article it discusses; its guid stays the permalink.
        guid = item.find("guid")
        if (guid is None or not is_absolute_http(guid.text)
                or urlsplit(guid.text.strip()).netloc != urlsplit(feed.url).netloc):
            problems.append(f"{what} guid {None if guid is None else guid.text!r} "
                            "is not an absolute permalink on this site")
        elif guid.get("isPermaLink") not in (None, "true"):
            problems.append(f"{what} guid isPermaLink='{guid.get('isPermaLink')}'")
        guids.append(None if guid is None else guid.text)
        dates.append(check_rfc822(text_of(item, "pubDate"), f"{what} pubDate", problems))
        check_content_links(text_of(item, "description"), f"{what} description", problems,
                            allow_fragments)
        check_content_links(text_of(item, "content:encoded"), f"{what} content:encoded",
                            problems, allow_fragments)
    check_order(dates, "items", problems)
    check_unique(guids, "guid", problems)
    return problems


def check_atom(feed: Feed, allow_fragments: bool = True) -> list[str]:
    problems: list[str] = []
    root = etree.fromstring(feed.data)
    for name in ("id", "title"):
        if not (text_of(root, f"atom:{name}") or "").strip():
            problems.append(f"feed <{name}> is missing or empty")
    check_rfc3339(text_of(root, "atom:updated"), "feed updated", problems)
    links = root.findall("atom:link", NS)
    self_links = [l.get("href") for l in links if l.get("rel") == "self"]
    if self_links != [feed.url]:
        problems.append(f"link rel=self is {self_links}, expected ['{feed.url}']")
    alternates = [l.get("href") for l in links if l.get("rel", "alternate") == "alternate"]
    if not alternates or not all(is_absolute_http(h) for h in alternates):
        problems.append(f"feed link rel=alternate {alternates} is missing or not absolute")
    feed_has_author = root.find("atom:author/atom:name", NS) is not None
    dates, ids = [], []
    for number, entry in enumerate(root.findall("atom:entry", NS), start=1):
        what = f"entry {number}"
        entry_id = (text_of(entry, "atom:id") or "").strip()
        if not entry_id:
            problems.append(f"{what} has no id")
        ids.append(entry_id)
        if not (text_of(entry, "atom:title") or "").strip():
            problems.append(f"{what} has no title")
        updated = check_rfc3339(text_of(entry, "atom:updated"), f"{what} updated", problems)
        published = entry.find("atom:published", NS)
        dates.append(check_rfc3339(published.text, f"{what} published", problems)
                     if published is not None else updated)
        links = [l.get("href") for l in entry.findall("atom:link", NS)
                 if l.get("rel", "alternate") == "alternate"]
        if not links or not all(is_absolute_http(h) for h in links):
            problems.append(f"{what} alternate link {links} is missing or not absolute")
        if not feed_has_author and entry.find("atom:author/atom:name", NS) is None:
            problems.append(f"{what} has no author, and neither has the feed")
        for name in ("summary", "content"):
            element = entry.find(f"atom:{name}", NS)
            if element is not None and element.get("type") in ("html", None):
                check_content_links(element.text, f"{what} {name}", problems, allow_fragments)
    check_order(dates, "entries", problems)
    check_unique(ids, "entry id", problems)
    return problems


def check_json_feed(feed: Feed, allow_fragments: bool = True) -> list[str]:
    problems: list[str] = []
    document = json.loads(feed.data)
    if document.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append(f"version {document.get('version')!r} is not JSON Feed 1.1")
    if not isinstance(document.get("items"), list):
        problems.append("items is missing or not a list")
    if not str(document.get("title", "")).strip():
        problems.append("title is missing or empty")
    if not is_absolute_http(document.get("home_page_url")):
        problems.append(f"home_page_url {document.get('home_page_url')!r} is not absolute")
    if document.get("feed_url") != feed.url:
        problems.append(f"feed_url {document.get('feed_url')!r}, expected '{feed.url}'")
    dates, ids = [], []
    for number, item in enumerate(document.get("items", []), start=1):
        what = f"item {number}"
        ids.append(item.get("id"))
        if not str(item.get("id", "")).strip():
            problems.append(f"{what} has no id")
        if not is_absolute_http(item.get("url")):
            problems.append(f"{what} url {item.get('url')!r} is not absolute")
        if "external_url" in item and not is_absolute_http(item["external_url"]):
            problems.append(f"{what} external_url {item['external_url']!r} is not absolute")
        if "content_html" not in item and "content_text" not in item:
            problems.append(f"{what} has neither content_html nor content_text")
        dates.append(check_rfc3339(item.get("date_published"), f"{what} date_published",
                                   problems))
        check_content_links(item.get("content_html"), f"{what} content_html", problems,
                            allow_fragments)
    check_order(dates, "items", problems)
    check_unique(ids, "item id", problems)
    return problems


CHECKS = {"rss": check_rss, "atom": check_atom, "json": check_json_feed}


def test_feeds_parse_with_feedparser_without_bozo(feeds: list[Feed]):
    """feedparser 6.0 reads RSS and Atom; JSON Feed gets only the strict checks below."""
    problems = []
    for feed in feeds:
        if feed.kind == "json":
            continue
        if feed.kind == "unparsable":
            problems.append(f"{feed.rel_path}: not well-formed XML")
            continue
        parsed = feedparser.parse(feed.data)
        if parsed.bozo:
            problems.append(f"{feed.rel_path}: bozo: {parsed.get('bozo_exception')!r}")
        elif not parsed.entries and b"<item" in feed.data:
            problems.append(f"{feed.rel_path}: feedparser found no entries")
    assert not problems, "\n".join(problems)


def test_feeds_pass_strict_checks(feeds: list[Feed]):
    problems = [f"{feed.rel_path}: {problem}"
                for feed in feeds if feed.kind in CHECKS
                for problem in CHECKS[feed.kind](feed)]
    assert not problems, f"{len(problems)} feed problems:\n" + "\n".join(problems)


def test_rss_channel_link_is_the_listing_page_not_the_feed(feeds: list[Feed]):
    problems = []
    for feed in feeds:
        if feed.kind == "rss":
            link = text_of(etree.fromstring(feed.data).find("channel"), "link")
            if link == feed.url or (link or "").endswith((".xml", ".json")):
                problems.append(f"{feed.rel_path}: channel <link> is '{link}', the feed "
                                "itself; it must be the HTML page the feed mirrors")
    assert not problems, "\n".join(problems)


def test_feed_fragment_links_point_at_the_post(feeds: list[Feed]):
    """A footnote link '#fn:1' in a feed resolves against the feed URL in readers."""
    problems = [f"{feed.rel_path}: {problem}"
                for feed in feeds if feed.kind in CHECKS
                for problem in CHECKS[feed.kind](feed, allow_fragments=False)
                if "links to '#" in problem]
    assert not problems, f"{len(problems)} fragment-only links:\n" + "\n".join(problems)


def test_strict_checks_catch_a_bad_feed():
    """Guard the checks: a feed with the faults readers choke on is reported."""
    bad = b"""<?xml version='1.0' encoding='UTF-8'?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>T</title><link>/</link><description>D</description>
<lastBuildDate>Wed, 20 Dec 2017 15:55:00 GMT</lastBuildDate>
<item><title>Old</title><link>https://x.example/old/</link><guid>old</guid>
<pubDate>Wed, 01 Feb 2017 10:00:00 -0500</pubDate>
<description>&lt;img src="/a.png"&gt;</description></item>
<item><title>New</title><link>https://x.example/new/</link>
<pubDate>Wed, 20 Dec 2017 15:55:00 -0500</pubDate></item>
</channel></rss>"""
    problems = "\n".join(check_rss(Feed("feed.xml", "rss", bad, "https://x.example/feed.xml")))
    for expected in ("channel <link>", "rel=self", "GMT", "guid 'old'", "'/a.png'",
                     "newest first"):
        assert expected in problems, f"missed {expected!r} in:\n{problems}"


def test_feeds_are_byte_identical_between_builds(demo_output: Path, tmp_path: Path,
                                                 demo_base_url: str, build_demo):
    second = build_demo(tmp_path / "output")
    base_url = demo_base_url
    first_feeds = {f.rel_path: f.data for f in find_feeds(demo_output, base_url)}
    second_feeds = {f.rel_path: f.data for f in find_feeds(second, base_url)}
    assert sorted(first_feeds) == sorted(second_feeds)
    differing = [name for name in first_feeds if first_feeds[name] != second_feeds[name]]
    assert not differing, f"feeds differ between two builds: {differing}"
