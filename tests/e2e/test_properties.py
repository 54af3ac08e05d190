"""Property tests: invariants that must hold for any input, found with hypothesis."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import feedparser
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import MINIMAL_CONFIG, blog_files, build_in_process, post_text, write_site
from marginalia.config import parse_config
from marginalia.errors import BuildError, OutputError
from marginalia.model import SourceFile
from marginalia.parse import parse_post
from marginalia.urls import slugify
from marginalia.write import safe_target

CONFIG = parse_config(MINIMAL_CONFIG, Path("/site"))
SLUG = re.compile(r"([a-z0-9]+(-[a-z0-9]+)*)?")
QUICK = settings(max_examples=100, deadline=None, derandomize=True)


@QUICK
@given(st.text())
def test_slugify_gives_a_safe_segment(text):
    slug = slugify(text)
    assert SLUG.fullmatch(slug), slug
    assert ".." not in slug and "/" not in slug and "\\" not in slug


@QUICK
@given(st.text(st.characters(codec="utf-8")))
def test_slugify_is_idempotent(text):
    assert slugify(slugify(text)) == slugify(text)


path_parts = st.sampled_from(["..", ".", "", "a", "b.html", "/", "\\", "\0", "~", "%2e%2e",
                              "..\\..", "index.html", " ", "\u2025"])


@QUICK
@given(st.lists(path_parts, max_size=8).map("/".join) | st.text(max_size=40))
def test_safe_target_stays_inside_the_root(rel_path):
    root = Path(tempfile.gettempdir()).resolve() / "marginalia-property-root"
    try:
        target = safe_target(root, rel_path)
    except OutputError:
        return
    assert target.is_relative_to(root) and target != root


front_matter_values = st.one_of(
    st.text(max_size=30), st.integers(), st.booleans(), st.none(),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from(["2024-13-01", "2024-02-30", "2016-06-29", "2016-06-29T16:40:00-04:00",
                     "no", "~", "[a, b", "{a: b}", "!!python/object:os.system x", "&a x",
                     "*a", "|\n  text", "'unterminated", "North Korea Fallout",
                     "javascript:alert(1)", "\x00", "\ud800"]))
field_names = st.sampled_from(["title", "section", "date", "dek", "tags", "sources", "draft",
                               "comments", "slug", "updated", "expires", "author", "extra",
                               "aliases", "titel", "x"])


@st.composite
def post_like_text(draw) -> str:
    fields = draw(st.dictionaries(field_names, front_matter_values, max_size=6))
    lines = []
    for key, value in fields.items():
        rendered = json.dumps(value) if draw(st.booleans()) else str(value)
        lines.append(f"{key}: {rendered}")
    body = draw(st.text(max_size=200) | st.sampled_from(
        ["[x](javascript:alert(1))", "[a](b.md)", "---", "> " * 50, "<script>x</script>",
         "[^1]\n\n[^1]: n", "```\nunclosed"]))
    closing = draw(st.sampled_from(["---\n", "", "--- \n", "----\n"]))
    return "---\n" + "\n".join(lines) + "\n" + closing + body


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(post_like_text() | st.text(max_size=300))
def test_parse_post_raises_only_build_errors(text):
    source = SourceFile("content/posts/p.md", text, "post")
    try:
        post = parse_post(source, CONFIG)
    except BuildError:
        return
    assert post.title and post.date.tzinfo is not None
    assert SLUG.fullmatch(post.slug) and post.url.startswith("/")


words = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF,
                              blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@st.composite
def valid_post(draw, index: int) -> str:
    title = draw(words.filter(lambda t: slugify(t) and t.strip() == t))
    day = draw(st.integers(1, 28))
    month = draw(st.integers(1, 12))
    hour = draw(st.integers(0, 23))
    tags = draw(st.lists(st.sampled_from(["Japan", "Trade", "Budget", "Tax", "China"]),
                         max_size=3, unique=True))
    # Control characters in a body are a known engine bug (test_errors covers it).
    body = draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(
        "\n\t*_[]()#>-`<&!:|"), max_size=300))
    return post_text(title=json.dumps(title)[1:-1],
                     section=draw(st.sampled_from(["North Korea Fallout", "Trade Winds"])),
                     date=f"2016-{month:02d}-{day:02d}T{hour:02d}:00:00-05:00",
                     dek=json.dumps(draw(words)), tags=json.dumps(tags),
                     slug=f"post-{index}", body=body)


@st.composite
def valid_sites(draw) -> dict[str, str]:
    count = draw(st.integers(1, 5))
    return {f"content/posts/p{i}.md": draw(valid_post(i)) for i in range(count)}


# Each example is a whole build, so shrinking is skipped: a failure shows its example as
# generated (a handful of short posts), and the suite stays fast.
@settings(max_examples=12, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(valid_sites())
def test_random_valid_sites_build_and_their_feeds_parse(tmp_path, files):
    root = tmp_path / "site"
    shutil.rmtree(root, ignore_errors=True)
    write_site(root, blog_files(files))
    result = build_in_process(root)
    assert result.returncode == 0, result.stderr
    parsed = feedparser.parse((root / "output" / "feed.xml").read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(files)
    links = [e.link for e in parsed.entries]
    assert len(set(links)) == len(files)
    for link in links:
        page = root / "output" / link.removeprefix("https://example.org/") / "index.html"
        assert page.is_file(), link
