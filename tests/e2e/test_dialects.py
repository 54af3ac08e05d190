"""End-to-end: a blog whose posts were written for other engines' Markdown builds, with
warnings where something had to change, never with an error.

The posts below are made up, but each holds what moving a real archive brings
along: Hugo shortcodes and Jekyll Liquid tags left in the text, raw HTML blocks and
embeds, lists indented two spaces, footnotes, tables, bare URLs, links with odd or
dangerous schemes, links to posts that were never moved, pasted control characters
and character references, and a pasted page full of scripts.
"""

from __future__ import annotations

import re
from pathlib import Path

import html5lib
import lxml.etree
import pytest

from conftest import blog_files, build_in_process, write_site

DIALECT_BODIES = {
    "hugo-shortcodes": '{{< youtube "dQw4w9WgXcQ" >}}\n\nThe ruling, {{% ref "other.md" %}}.\n',
    "liquid-tags": "{% include note.html %}\n\nPosted by {{ page.author }}.\n",
    "html-block": '<div class="callout">\n<p>Raw <em>HTML</em> block.</p>\n</div>\n\nAfter.\n',
    "nested-lists": "- Ports\n  - Tariffs\n    - Steel\n- Courts\n\n1. First\n2. Second\n",
    "footnotes": "A claim.[^1] Another.[^note]\n\n[^1]: The source.\n[^note]: More.\n",
    "table": "| Country | Tariff |\n|---|---|\n| Japan | 25% |\n| Korea | 10% |\n",
    "bare-urls": "See <https://example.com/report> and www.example.org, or mail desk@example.org.\n",
    "odd-schemes": "Call [us](tel:+15551234) or [write](mail-to:desk@example.org), "
                   "[magnet](magnet:?xt=urn:btih:abc).\n",
    "script-link": "[Click](javascript:alert(document.cookie)) and "
                   "[data](data:text/html;base64,PHNjcmlwdD4=).\n",
    "missing-post": "As we said [before](../2014/never-moved.md).\n",
    "embed": '<iframe src="https://www.youtube.com/embed/x"></iframe>\n\n'
             '<img src="photo.jpg" onerror="steal()" alt="A photo">\n',
    "pasted-page": "".join(f"<script>track({n})</script>\n<p>Para {n}.</p>\n\n"
                           for n in range(12)) + "<style>p { color: red }</style>\n",
    "characters": "Bell \x07 here, and &#0; &#x1b; &#xD800; &#xFFFF; there.\n",
    "code-fences": "```python\nprint('{{ not a template }}')\n```\n\n~~~\n<b>kept</b>\n~~~\n",
    "headings": "# A top heading\n\n#hashtag at the start\n\n## Smaller\n",
    "quote-comment": "Reuters:\n\n> Quoted.\n> > Nested quote.\n\nCommentary.\n",
}
WARNED = {"odd-schemes", "script-link", "missing-post", "embed", "pasted-page", "characters"}


def post(name: str, number: int, body: str) -> str:
    return (f'---\ntitle: "Moved Post {number}: {name}"\nsection: North Korea Fallout\n'
            f"date: 2015-{1 + number % 12:02d}-{1 + number % 27:02d}T09:00:00Z\n"
            f"tags: [Imported]\n---\n{body}")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, str]:
    files = {f"content/posts/2015/{name}.md": post(name, number, body)
             for number, (name, body) in enumerate(DIALECT_BODIES.items())}
    # A sizeable archive: each dialect many times over, as a real blog repeats its habits.
    for copy in range(1, 8):
        for number, (name, body) in enumerate(DIALECT_BODIES.items()):
            files[f"content/posts/{2015 + copy}/{name}-{copy}.md"] = post(
                f"{name} {copy}", number + copy * 100, body)
    site = write_site(tmp_path_factory.mktemp("dialects") / "site", blog_files(files))
    result = build_in_process(site)
    return site, result.stderr, str(result.returncode)


def test_a_blog_in_other_dialects_builds_with_warnings_not_errors(built):
    site, stderr, code = built
    assert code == "0", stderr
    assert "Traceback" not in stderr
    warned = {re.match(r"warning: content/posts/\d+/([a-z-]+?)(?:-\d)?\.md:\d+: ", line)[1]
              for line in stderr.splitlines() if line.startswith("warning: ")}
    assert warned == WARNED


def test_every_page_and_feed_of_it_is_well_formed(built):
    site, _, _ = built
    output = site / "output"
    pages = list(output.rglob("*.html"))
    assert len(pages) > 8 * len(DIALECT_BODIES)
    parser = html5lib.HTMLParser(strict=False)
    for page in pages:
        document = parser.parse(page.read_bytes())
        scripts = [s for s in document.iter("{http://www.w3.org/1999/xhtml}script")
                   if "track(" in (s.text or "") or "steal" in (s.text or "")]
        assert not scripts, page
    for feed in output.rglob("*.xml"):
        lxml.etree.parse(str(feed))  # raises on a character XML cannot hold


def test_text_from_other_engines_stays_text(built):
    site, _, _ = built
    page = next((site / "output").rglob("liquid-tags/index.html")).read_text("utf-8")
    assert "{% include note.html %}" in page and "{{ page.author }}" in page
    page = next((site / "output").rglob("hugo-shortcodes/index.html")).read_text("utf-8")
    assert "{{&lt; youtube" in page or "{{< youtube" in page
