"""WordPress's own content syntax, turned into plain HTML before it becomes Markdown:
block-editor comments, <!--more--> and <!--nextpage-->, shortcodes, embeds by bare
URL, and wpautop's paragraphs for posts written without any."""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:.*?-->", re.DOTALL)
MORE = re.compile(r"<!--more(.*?)?-->|<!--noteaser-->", re.IGNORECASE)
NEXTPAGE = re.compile(r"<!--nextpage-->", re.IGNORECASE)
# WordPress's own shortcode pattern (get_shortcode_regex), for any name: [[name]] is an
# escaped shortcode; [name attrs /] self-closes; [name]...[/name] encloses.
SHORTCODE = re.compile(
    r"\[(\[?)([A-Za-z][\w-]*)(?![\w-])([^\]/]*(?:/(?!\])[^\]/]*)*?)"
    r"(?:(/)\]|\](?:([^\[]*(?:\[(?!/\2\])[^\[]*)*)\[/\2\])?)(\]?)")
ATTRIBUTE = re.compile(
    r"""([\w-]+)\s*=\s*"([^"]*)"(?:\s|$)|([\w-]+)\s*=\s*'([^']*)'(?:\s|$)"""
    r"""|([\w-]+)\s*=\s*([^\s'"]+)(?:\s|$)|"([^"]*)"(?:\s|$)|'([^']*)'(?:\s|$)"""
    r"""|(\S+)(?:\s|$)""")
BARE_URL_LINE = re.compile(r"^[ \t]*(https?://[^\s<>\"']+)[ \t]*$", re.MULTILINE)
CAPTION_PARTS = re.compile(r"^\s*((?:<a [^>]+>\s*)?<img [^>]+>(?:\s*</a>)?)(.*)$",
                           re.DOTALL | re.IGNORECASE)
BLOCKS = (r"table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|"
          r"pre|form|map|area|blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|"
          r"section|article|aside|hgroup|header|footer|nav|figure|figcaption|details|menu|"
          r"summary|video|audio|iframe|object")
AUDIO_KEYS = ("src", "mp3", "m4a", "ogg", "wav", "wma", "flac")
VIDEO_KEYS = ("src", "mp4", "m4v", "webm", "ogv", "wmv", "flv")
EMBED_SHORTCODES = ("embed", "youtube", "vimeo")


@dataclass(frozen=True, slots=True)
class Attachment:
    id: int
    url: str
    parent: int
    title: str
    alt: str
    caption: str
    link: str  # the attachment's own page on the old site
    menu_order: int

    @property
    def is_image(self) -> bool:
        return posixpath.splitext(urlsplit(self.url).path)[1].lower() in (
            ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".bmp", ".tif",
            ".tiff")


@dataclass
class Prepared:
    html: str
    unknown_shortcodes: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PostMedia:
    """What shortcodes need to find a post's files."""

    post_id: int
    attachments: Mapping[int, Attachment]
    children: tuple[Attachment, ...]  # attachments uploaded to this post, in order
    enclosure: str = ""  # the podcast enclosure URL from postmeta


def prepare_content(raw: str, media: PostMedia) -> Prepared:
    """Turn WordPress content into HTML: block comments dropped, teaser and pages
    joined, shortcodes expanded, embeds as links, paragraphs added as WordPress does."""
    prepared = Prepared("")
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    block_editor = BLOCK_COMMENT.search(text) is not None
    text = BLOCK_COMMENT.sub("", text)
    text = NEXTPAGE.sub("\n\n", text)
    # What came before <!--more--> opens the body, so listings, which show a post's
    # opening words when it has no dek, show it as WordPress did.
    text = MORE.sub("\n\n", text)
    # WordPress adds paragraphs to everything but block-editor content, where the
    # blocks carry their own; a post with none at all needs them either way.
    needs_paragraphs = not block_editor or not re.search(r"<p[\s>]", text, re.IGNORECASE)
    text = expand_shortcodes(text, media, prepared)
    text = BARE_URL_LINE.sub(lambda m: _link(m[1], m[1]), text)
    if needs_paragraphs:
        text = wpautop(text)
    prepared.html = text
    return prepared


def expand_shortcodes(text: str, media: PostMedia, prepared: Prepared) -> str:
    """Replace the shortcodes WordPress ships with HTML; keep any other as it is."""
    def replace(match: re.Match) -> str:
        if match[1] == "[" and match[6] == "]":
            return match[0][1:-1]  # [[name]] is how WordPress writes a literal [name]
        name, attributes = match[2].lower(), parse_attributes(match[3])
        inner = match[5] or ""
        handler = HANDLERS.get(name)
        if handler is None:
            prepared.unknown_shortcodes.append(match[2])
            return match[0]
        return handler(attributes, inner, media, prepared)

    return SHORTCODE.sub(replace, text)


def parse_attributes(text: str) -> dict[str | int, str]:
    """Read shortcode attributes as WordPress does: name="value", or bare values by
    position."""
    attributes: dict[str | int, str] = {}
    position = 0
    for match in ATTRIBUTE.finditer(html.unescape(text).strip()):
        for name_group, value_group in ((1, 2), (3, 4), (5, 6)):
            if match[name_group]:
                attributes[match[name_group].lower()] = match[value_group]
                break
        else:
            value = next(v for v in (match[7], match[8], match[9]) if v is not None)
            attributes[position] = value
            position += 1
    return attributes


def _caption(attributes: dict, inner: str, media: PostMedia, prepared: Prepared) -> str:
    caption = attributes.get("caption", "")
    image = inner
    parts = CAPTION_PARTS.match(inner)
    if parts:
        image, rest = parts[1], parts[2].strip()
        caption = caption or rest
    if not caption.strip():
        return image
    return f"\n\n<figure>{image}<figcaption>{caption.strip()}</figcaption></figure>\n\n"


def _gallery(attributes: dict, inner: str, media: PostMedia, prepared: Prepared) -> str:
    images = gallery_images(attributes, media)
    if not images:
        prepared.changes.append("a [gallery] with no images in the export was removed")
        return ""
    if attributes.get("orderby", "").lower() == "rand":
        prepared.changes.append("a [gallery] shown in random order is listed in its "
                                "stored order")
    items = []
    for image in images:
        alt = html.escape(image.alt or image.title, quote=True)
        caption = f" {html.escape(image.caption)}" if image.caption else ""
        items.append(f'<li><img src="{html.escape(image.url, quote=True)}" alt="{alt}">'
                     f"{caption}</li>")
    return "\n\n<ul>" + "".join(items) + "</ul>\n\n"


def gallery_images(attributes: dict, media: PostMedia) -> list[Attachment]:
    """The images a [gallery] shows: by ids or include, else the post's own uploads."""
    listed = attributes.get("ids") or attributes.get("include") or ""
    if listed:
        wanted = [int(n) for n in re.findall(r"\d+", listed)]
        return [media.attachments[n] for n in wanted if n in media.attachments
                and media.attachments[n].is_image]
    excluded = {int(n) for n in re.findall(r"\d+", attributes.get("exclude", ""))}
    source = media.children
    if attributes.get("id", "").isdigit():
        parent = int(attributes["id"])
        source = tuple(a for a in media.attachments.values() if a.parent == parent)
    images = [a for a in source if a.is_image and a.id not in excluded]
    return sorted(images, key=lambda a: (a.menu_order, a.id))


def _media(kind: str, keys: tuple[str, ...]) -> Callable[..., str]:
    def expand(attributes: dict, inner: str, media: PostMedia, prepared: Prepared) -> str:
        url = next((attributes[k] for k in (*keys, 0) if attributes.get(k)), "")
        url = url or inner.strip() or _first_child(media, kind) or (
            media.enclosure if kind == "Audio" else "")
        if not url.startswith(("http://", "https://", "/")):
            prepared.changes.append(f"an [{kind.lower()}] with no file was removed")
            return ""
        name = posixpath.basename(urlsplit(url).path) or url
        return "\n\n<p>" + _link(url, f"{kind}: {name}") + "</p>\n\n"
    return expand


def _first_child(media: PostMedia, kind: str) -> str:
    extensions = {"Audio": (".mp3", ".m4a", ".ogg", ".wav", ".wma", ".flac"),
                  "Video": (".mp4", ".m4v", ".webm", ".ogv", ".wmv", ".flv", ".mov")}[kind]
    for attachment in media.children:
        if urlsplit(attachment.url).path.lower().endswith(extensions):
            return attachment.url
    return ""


def _embed(attributes: dict, inner: str, media: PostMedia, prepared: Prepared) -> str:
    url = (inner.strip() or attributes.get("url") or attributes.get(0, "")).strip()
    if url and not url.startswith(("http://", "https://")) and re.fullmatch(r"[\w-]+", url):
        url = f"https://www.youtube.com/watch?v={url}"
    if not url.startswith(("http://", "https://")):
        prepared.changes.append("an embed with no address was removed")
        return ""
    return "\n\n<p>" + _link(url, url) + "</p>\n\n"


def _link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


HANDLERS: dict[str, Callable[[dict, str, PostMedia, Prepared], str]] = {
    "caption": _caption,
    "wp_caption": _caption,
    "gallery": _gallery,
    "audio": _media("Audio", AUDIO_KEYS),
    "video": _media("Video", VIDEO_KEYS),
    **{name: _embed for name in EMBED_SHORTCODES},
}


def wpautop(text: str) -> str:
    """Wrap loose text in paragraphs, as WordPress shows posts written without them:
    a blank line between paragraphs, a single newline a line break."""
    if not text.strip():
        return ""
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match[0])
        return f"\n\n<pre data-kept=\"{len(kept) - 1}\"></pre>\n\n"

    text = re.sub(r"<pre\b.*?</pre>", keep, text, flags=re.DOTALL | re.IGNORECASE)
    text = re.sub(rf"(<(?:{BLOCKS})[\s/>])", r"\n\n\1", text, flags=re.IGNORECASE)
    text = re.sub(rf"(</(?:{BLOCKS})>)", r"\1\n\n", text, flags=re.IGNORECASE)
    paragraphs = []
    for chunk in re.split(r"\n\s*\n", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        if re.match(rf"</?(?:{BLOCKS})[\s/>]", chunk, re.IGNORECASE):
            paragraphs.append(chunk)
        else:
            paragraphs.append("<p>" + re.sub(r"[ \t]*\n[ \t]*", "<br>\n", chunk) + "</p>")
    joined = "\n".join(paragraphs)
    return re.sub(r'<pre data-kept="(\d+)"></pre>', lambda m: kept[int(m[1])], joined)
