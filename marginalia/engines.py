"""The two Markdown engines, each turning a post body into HTML before the shared steps
(sanitiser, typography, attributions, link checks) that markup.py runs after either.

- "python-markdown", the default: Python-Markdown with the site's extensions, reading
  the CommonMark habits it would otherwise misread as CommonMark does (habits.py).
- "commonmark": cmark-gfm, GitHub's own CommonMark + GFM parser, in C.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from .errors import did_you_mean
from .habits import read_as_commonmark
from .inline import try_patterns_only_where_they_can_match
from .model import MarkdownConfig

PYTHON_MARKDOWN = "python-markdown"
COMMONMARK = "commonmark"
ENGINES = (PYTHON_MARKDOWN, COMMONMARK)
SMART_PUNCTUATION = "smarty"  # done by typography.smarten after either engine
# What Marginalia sets unless site.toml says otherwise: footnotes numbered in the order
# they are referred to, as CommonMark does, and ~text~ left as written (~~text~~ strikes).
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "footnotes": {"USE_DEFINITION_ORDER": False},
    "pymdownx.tilde": {"subscript": False},
}
BUILT_IN_EXTENSIONS = frozenset({
    "abbr", "admonition", "attr_list", "codehilite", "def_list", "extra", "fenced_code",
    "footnotes", "legacy_attrs", "legacy_em", "md_in_html", "meta", "nl2br", "sane_lists",
    "tables", "toc", "wikilinks"})
# Extensions that come with Python-Markdown or with Marginalia's dependencies.
SHIPPED_EXTENSIONS = BUILT_IN_EXTENSIONS | {f"markdown.extensions.{name}" for name in (
    BUILT_IN_EXTENSIONS | {SMART_PUNCTUATION})} | {
    SMART_PUNCTUATION, "pymdownx.magiclink", "pymdownx.tilde", "pymdownx.saneheaders",
    "pymdownx.tasklist"}
# Python-Markdown extensions whose syntax CommonMark + GFM has too: naming them with
# the commonmark engine is harmless.
COMMONMARK_HAS = frozenset({
    SMART_PUNCTUATION, "footnotes", "tables", "fenced_code", "sane_lists",
    "pymdownx.magiclink", "pymdownx.tilde", "pymdownx.saneheaders", "pymdownx.superfences",
    "pymdownx.tasklist"})
# A little of everything, to see an extension's options at work.
OPTIONS_SAMPLE = "# T\n\nA *b* ~~c~~ https://example.org[^1]\n\n- d\n\n[^1]: e\n"
GFM_EXTENSIONS = ("table", "strikethrough", "autolink", "tasklist")
FOOTNOTES_OPENING = '<section class="footnotes" data-footnotes>\n'
HEADING_TAG = re.compile(r"<(/?)h([1-5])(?=[\s>/])", re.IGNORECASE)
FIRST_LEVEL_HEADING = re.compile(r"<h1[\s>/]", re.IGNORECASE)

_converters: dict[str, Any] = {}  # markdown.Markdown by repr of the MarkdownConfig


def convert_markdown(body: str, markdown: MarkdownConfig) -> str:
    """Convert a body to HTML with the configured engine; nothing is sanitised yet."""
    if markdown.engine == COMMONMARK:
        return shift_headings(_convert_commonmark(body))
    try:
        return shift_headings(_python_markdown(markdown).reset().convert(body))
    except RecursionError:
        _converters.pop(repr(markdown), None)  # one that failed midway keeps bad state
        raise


def prepare_converter(markdown: MarkdownConfig) -> None:
    """Import the engine and build its converter now rather than on first use."""
    if markdown.engine == COMMONMARK:
        importlib.import_module("cmarkgfm")
    else:
        _python_markdown(markdown)


def extension_problem(name: str, options: dict[str, Any]) -> str | None:
    """Say what is wrong with a Python-Markdown extension and the options site.toml
    gives it, or return None."""
    import markdown as python_markdown

    try:
        known = _extension(name, {}).getConfigs()
    except (ImportError, AttributeError) as exc:
        return (f"markdown extension '{name}' cannot be loaded ({exc}); check its name, "
                "and install the package that provides it")
    for option in options:
        if option not in known:
            return (f"markdown extension '{name}' has no option '{option}'"
                    f"{did_you_mean(option, known)}; its options: {', '.join(known)}")
    try:
        extension = _extension(name, {name: options})
        python_markdown.Markdown(extensions=[extension]).convert(OPTIONS_SAMPLE)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"markdown extension '{name}' refused its options: {exc!r}"
    return None


def _python_markdown(markdown: MarkdownConfig) -> Any:
    import markdown as python_markdown  # imported when first needed: a cached rebuild never is

    key = repr(markdown)
    if key not in _converters:
        names = [n for n in markdown.extensions if n != SMART_PUNCTUATION]
        converter = python_markdown.Markdown(
            extensions=[_extension(name, markdown.extension_configs) for name in names],
            output_format="html")
        read_as_commonmark(converter)
        try_patterns_only_where_they_can_match(converter)
        _converters[key] = converter
    return _converters[key]


def _extension(name: str, configs: dict[str, dict[str, Any]]) -> Any:
    """An extension with Marginalia's options and the site's, made directly when its
    module is known: by name alone, Markdown first reads the entry points of every
    installed package, which costs more than the rest of making the converter."""
    options = {**DEFAULT_OPTIONS.get(_short(name), {}), **configs.get(name, {})}
    if _short(name) in BUILT_IN_EXTENSIONS:
        name = f"markdown.extensions.{_short(name)}"
    elif "." not in name:  # the name of an entry point: only Markdown can find it
        import markdown as python_markdown

        return python_markdown.Markdown().build_extension(name, options)
    module_name, _, class_name = name.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(**options) if class_name else module.makeExtension(
        **options)


def _short(name: str) -> str:
    return name.removeprefix("markdown.extensions.")


def _convert_commonmark(body: str) -> str:
    import cmarkgfm  # imported when first needed: a cached rebuild never is
    from cmarkgfm.cmark import Options

    # Raw HTML and every URL pass through here: the sanitiser and the link checks
    # after the engine decide what stays, with a warning, as for Python-Markdown.
    # Only ~~text~~ strikes, as with pymdownx.tilde: "~5 to ~7" stays as written.
    rendered = cmarkgfm.markdown_to_html_with_extensions(
        body, options=(Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES
                       | Options.CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE),
        extensions=GFM_EXTENSIONS)
    if FOOTNOTES_OPENING in rendered:
        # The footnotes in the shape Python-Markdown gives them, which the theme styles.
        head, _, notes = rendered.rpartition(FOOTNOTES_OPENING)
        notes, _, tail = notes.rpartition("</section>")
        rendered = f'{head}<div class="footnote">\n<hr>\n{notes}</div>{tail}'
    return rendered


def shift_headings(body_html: str) -> str:
    """When a body uses first-level headings, move every heading down a level (h1 to
    h2, ..., h5 to h6; h6 stays): the page's title is its only h1."""
    if FIRST_LEVEL_HEADING.search(body_html) is None:
        return body_html
    return HEADING_TAG.sub(lambda m: f"<{m[1]}h{int(m[2]) + 1}", body_html)
