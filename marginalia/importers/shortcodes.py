"""Hugo's and Zola's shortcodes: the ones with a clear equivalent become Markdown or
HTML; any other stays as it is written and is listed in the report."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from .static import Entry, Links, apply_outside_code

# {{< name args >}} and {{% name args %}}; the closing mark mirrors the opening one.
HUGO_SHORTCODE = re.compile(r"{{(<|%)\s*(?!/)([\w.-]+)(.*?)\s*(>|%)}}", re.DOTALL)
HUGO_COMMENTED = re.compile(r"{{(<|%)/\*(.*?)\*/(>|%)}}", re.DOTALL)
HUGO_HIGHLIGHT = re.compile(r"{{[<%]\s*highlight\s+\"?([\w+-]+)\"?[^}]*?[>%]}}\n?(.*?)\n?"
                            r"{{[<%]\s*/highlight\s*[>%]}}", re.DOTALL)
HUGO_ARGUMENT = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|`([^`]*)`|(\S+))"""
                           r"""|"([^"]*)"|`([^`]*)`|(\S+)""")
ZOLA_CALL = re.compile(r"{{\s*([\w-]+)\((.*?)\)\s*}}", re.DOTALL)
ZOLA_BLOCK = re.compile(r"{%\s*([\w-]+)\((.*?)\)\s*%}.*?{%\s*end\s*%}", re.DOTALL)
ZOLA_ARGUMENT = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|`([^`]*)`|([^,\s]+))""")
ZOLA_LINK = re.compile(r"(\]\(\s*<?)@/([^)\s>#]+)(#[^)\s>]*)?")
VIDEO_URLS = {"youtube": "https://www.youtube.com/watch?v={}",
              "vimeo": "https://vimeo.com/{}"}

Arguments = dict[str | int, str]


def parse_hugo_arguments(text: str) -> Arguments:
    arguments: Arguments = {}
    position = 0
    for match in HUGO_ARGUMENT.finditer(text):
        if match[1]:
            arguments[match[1].lower()] = next(g for g in match.groups()[1:5] if g is not None)
        else:
            arguments[position] = next(g for g in match.groups()[5:] if g is not None)
            position += 1
    return arguments


def convert_hugo(body: str, entry: Entry, links: Links) -> str:
    """Hugo's built-in shortcodes with an equivalent, converted; {{</* */>}} unescaped."""
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    body = HUGO_COMMENTED.sub(lambda m: keep("{{" + m[1] + m[2] + m[3] + "}}"), body)
    body = HUGO_HIGHLIGHT.sub(lambda m: keep(f"```{m[1]}\n{m[2]}\n```"), body)

    def replace(match: re.Match) -> str:
        name, arguments = match[2].lower(), parse_hugo_arguments(match[3])
        if name in ("ref", "relref"):
            found = links.find(arguments.get(0, arguments.get("path", "")), entry)
            if found is not None:
                return found
        else:
            converted = _common_shortcode(name, arguments)
            if converted is not None:
                return converted
        return _unknown(match[0], entry, links)

    body = HUGO_SHORTCODE.sub(replace, body)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m[1])], body)


def convert_zola(body: str, entry: Entry, links: Links) -> str:
    """Zola's internal links (@/path.md) and built-in shortcodes with an equivalent."""
    def change(text: str) -> str:
        def link(match: re.Match) -> str:
            found = links.find(f"content/{match[2]}", entry)
            if found is None:
                links.ctx.report.note("old-link", entry.rel_path,
                                      f"@/{match[2]} names no imported page")
                return match[0]
            return match[1] + found + (match[3] or "")

        def call(match: re.Match) -> str:
            arguments: Arguments = {
                m[1].lower(): next(g for g in m.groups()[1:] if g is not None)
                for m in ZOLA_ARGUMENT.finditer(match[2])}
            converted = _common_shortcode(match[1].lower(), arguments)
            return converted if converted is not None else _unknown(match[0], entry, links)

        text = ZOLA_LINK.sub(link, text)
        text = ZOLA_CALL.sub(call, text)
        return ZOLA_BLOCK.sub(lambda m: _unknown(m[0], entry, links), text)

    return apply_outside_code(body, change)


def _common_shortcode(name: str, arguments: Arguments) -> str | None:
    handler = HANDLERS.get(name)
    return handler(arguments) if handler is not None else None


def _figure(arguments: Arguments) -> str | None:
    src = arguments.get("src") or arguments.get(0)
    if not src:
        return None
    alt = arguments.get("alt") or arguments.get("title") or ""
    caption = arguments.get("caption") or arguments.get("title") or ""
    image = f'<img src="{_attr(src)}" alt="{_attr(alt)}">'
    if arguments.get("link"):
        image = f'<a href="{_attr(arguments["link"])}">{image}</a>'
    if not caption:
        return f"\n\n<p>{image}</p>\n\n"
    return f"\n\n<figure>{image}<figcaption>{caption}</figcaption></figure>\n\n"


def _video(service: str) -> Callable[[Arguments], str | None]:
    def link(arguments: Arguments) -> str | None:
        video = arguments.get("id") or arguments.get(0)
        if not video:
            return None
        url = VIDEO_URLS[service].format(video)
        return f"<{url}>"
    return link


def _tweet(arguments: Arguments) -> str | None:
    user, number = arguments.get("user"), arguments.get("id") or arguments.get(0)
    if not number or not str(number).isdigit():
        return None
    return f"<https://twitter.com/{user or 'i'}/status/{number}>"


def _gist(arguments: Arguments) -> str | None:
    if arguments.get("url"):
        return f"<{arguments['url']}>"
    user, gist = arguments.get(0), arguments.get(1)
    return f"<https://gist.github.com/{user}/{gist}>" if user and gist else None


def _attr(text: str) -> str:
    return html.escape(str(text), quote=True)


def _unknown(text: str, entry: Entry, links: Links) -> str:
    links.ctx.report.note("shortcode", entry.rel_path,
                          f"{' '.join(text.split())[:80]} has no equivalent; kept as text")
    return text


HANDLERS: dict[str, Callable[[Arguments], str | None]] = {
    "figure": _figure, "youtube": _video("youtube"), "vimeo": _video("vimeo"),
    "tweet": _tweet, "x": _tweet, "gist": _gist,
}
