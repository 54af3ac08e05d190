"""Read a WordPress export (WXR 1.0 to 1.2) as a stream, one item at a time.

Elements are matched by local name, since exports name the WordPress namespace
with http:// or https://. Each item is cleared once read, so memory stays flat
however large the export.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ..errors import ContentError

WXR_VERSIONS = ("1.0", "1.1", "1.2")
CHANNEL_DEPTH, ITEM_DEPTH = 1, 2  # under <rss>: <channel>, then its children


@dataclass(frozen=True, slots=True)
class Category:
    nicename: str
    name: str
    parent: str  # the parent's nicename, or ""
    description: str = ""
    term_id: int = 0


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    parent: int
    author: str
    author_url: str
    date: str
    date_gmt: str
    content: str
    approved: str  # "1", "0", "spam", "trash"
    type: str  # "", "comment", "pingback", "trackback"


@dataclass(frozen=True, slots=True)
class Item:
    """One <item>: a post, page, attachment, menu item or any other post type."""

    line: int
    id: int
    type: str
    status: str
    title: str
    slug: str  # post_name, percent-encoded as WordPress keeps it
    link: str
    guid: str
    date: str  # post_date, in the blog's time zone: 2016-06-29 16:40:00
    date_gmt: str  # post_date_gmt, or 0000-00-00 00:00:00 for drafts
    parent: int
    menu_order: int
    password: str
    sticky: bool
    creator: str
    content: str
    excerpt: str
    comment_status: str
    attachment_url: str
    categories: tuple[tuple[str, str, str], ...]  # (domain, nicename, name)
    meta: dict[str, str]
    comments: tuple[Comment, ...]


@dataclass
class Channel:
    """What the export says about the blog, from the elements before the first item."""

    title: str = ""
    link: str = ""
    description: str = ""
    language: str = ""
    base_blog_url: str = ""
    wxr_version: str = ""
    authors: dict[str, str] = field(default_factory=dict)  # login -> display name
    categories: dict[str, Category] = field(default_factory=dict)  # by nicename


def local_name(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def child_texts(element: etree._Element) -> dict[str, str]:
    """Map each child's local name to its text; content:encoded and excerpt:encoded
    share the local name 'encoded' and are told apart by their namespace."""
    texts: dict[str, str] = {}
    for child in element:
        name = local_name(child)
        if name == "encoded":
            name = "excerpt" if "excerpt" in (child.tag.split("}")[0]) else "content"
        texts.setdefault(name, child.text or "")
    return texts


class ExportReader:
    """Streams the items of one export; channel holds what came before them."""

    def __init__(self, path: Path, shown_name: str):
        self.path = path
        self.name = shown_name
        self.channel = Channel()

    def items(self) -> Iterator[Item]:
        """Yield every item in order; raise ContentError naming the line of bad XML."""
        depth = 0
        in_item = False
        events = etree.iterparse(str(self.path), events=("start", "end"), huge_tree=True,
                                 resolve_entities=False, no_network=True, recover=False)
        try:
            for event, element in events:
                if event == "start":
                    if depth == 0:
                        self._check_root(element)
                    depth += 1
                    if depth == ITEM_DEPTH + 1 and local_name(element) == "item":
                        in_item = True
                        if not self.channel.wxr_version:
                            raise self._not_wxr(element.sourceline)
                    continue
                depth -= 1
                if in_item and depth == ITEM_DEPTH:
                    in_item = False
                    yield read_item(element)
                    _forget(element)
                elif not in_item and depth == ITEM_DEPTH:
                    self._read_channel_child(element)
                    _forget(element)
        except etree.XMLSyntaxError as exc:
            raise self._malformed(exc) from None
        except OSError as exc:
            raise ContentError(f"cannot read the export: {exc.strerror or exc}",
                               self.name) from None
        if not self.channel.wxr_version:
            raise self._not_wxr(None)

    def read_channel(self) -> Channel:
        """Read only as far as the first item, for the blog's title, address and zone."""
        for _ in self.items():
            break
        return self.channel

    def _check_root(self, element: etree._Element) -> None:
        if local_name(element) != "rss":
            raise ContentError(f"not a WordPress export: the file's root element is "
                               f"<{local_name(element)}>, not <rss>; export the blog with "
                               "Tools > Export in WordPress", self.name, element.sourceline)

    def _not_wxr(self, line: int | None) -> ContentError:
        return ContentError("an RSS feed, not a WordPress export: it has no "
                            "<wp:wxr_version>; export the blog with Tools > Export in "
                            "WordPress (WXR 1.0 to 1.2)", self.name, line)

    def _malformed(self, exc: etree.XMLSyntaxError) -> ContentError:
        message = exc.msg or str(exc)
        hint = ("; the file ends before the export does: export it again, or copy it "
                "whole" if "end of data" in message.lower() or "not closed" in message
                or "not found" in message else "")
        return ContentError(f"not well-formed XML: {message}{hint}", self.name,
                            exc.lineno or None)

    def _read_channel_child(self, element: etree._Element) -> None:
        name, channel = local_name(element), self.channel
        text = (element.text or "").strip()
        if name in ("title", "link", "description", "language") and not getattr(channel, name):
            setattr(channel, name, text)
        elif name == "base_blog_url":
            channel.base_blog_url = text
        elif name == "wxr_version":
            if text not in WXR_VERSIONS:
                raise ContentError(f"WXR version '{text}' is not one this import reads "
                                   f"({', '.join(WXR_VERSIONS)})", self.name,
                                   element.sourceline)
            channel.wxr_version = text
        elif name == "author":
            texts = child_texts(element)
            login = texts.get("author_login", "").strip()
            if login:
                channel.authors[login] = texts.get("author_display_name", "").strip() or login
        elif name == "category":
            texts = child_texts(element)
            nicename = texts.get("category_nicename", "").strip()
            if nicename:
                channel.categories[nicename] = Category(
                    nicename, texts.get("cat_name", "").strip() or nicename,
                    texts.get("category_parent", "").strip(),
                    texts.get("category_description", "").strip(),
                    _number(texts.get("term_id", "")))


def read_item(element: etree._Element) -> Item:
    """Read one <item> element into an Item."""
    texts = child_texts(element)
    categories, comments = [], []
    meta: dict[str, str] = {}
    for child in element:
        name = local_name(child)
        if name == "category":
            categories.append((child.get("domain", ""), child.get("nicename", ""),
                               (child.text or "").strip()))
        elif name == "postmeta":
            pair = child_texts(child)
            meta.setdefault(pair.get("meta_key", ""), pair.get("meta_value", ""))
        elif name == "comment":
            comments.append(_read_comment(child_texts(child)))
    return Item(
        line=element.sourceline or 0, id=_number(texts.get("post_id", "")),
        type=texts.get("post_type", "").strip(), status=texts.get("status", "").strip(),
        title=texts.get("title", ""), slug=texts.get("post_name", "").strip(),
        link=texts.get("link", "").strip(), guid=texts.get("guid", "").strip(),
        date=texts.get("post_date", "").strip(),
        date_gmt=texts.get("post_date_gmt", "").strip(),
        parent=_number(texts.get("post_parent", "")),
        menu_order=_number(texts.get("menu_order", "")),
        password=texts.get("post_password", ""), sticky=texts.get("is_sticky", "") == "1",
        creator=texts.get("creator", "").strip(), content=texts.get("content", ""),
        excerpt=texts.get("excerpt", ""), comment_status=texts.get("comment_status", ""),
        attachment_url=texts.get("attachment_url", "").strip(),
        categories=tuple(categories), meta=meta, comments=tuple(comments))


def _read_comment(texts: dict[str, str]) -> Comment:
    return Comment(
        id=_number(texts.get("comment_id", "")),
        parent=_number(texts.get("comment_parent", "")),
        author=texts.get("comment_author", "").strip(),
        author_url=texts.get("comment_author_url", "").strip(),
        date=texts.get("comment_date", "").strip(),
        date_gmt=texts.get("comment_date_gmt", "").strip(),
        content=texts.get("comment_content", ""),
        approved=texts.get("comment_approved", "").strip(),
        type=texts.get("comment_type", "").strip())


def _number(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


def _forget(element: etree._Element) -> None:
    """Free an element that has been read, and the siblings read before it."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
