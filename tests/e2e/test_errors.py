"""End-to-end: bad input is reported with file, line and a hint, and the last good output survives."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html
import pytest

from marginalia.typography import smarten_plain

from conftest import (MINIMAL_CONFIG, blog_files, build_in_process, parse_html, post_text,
                      run_build, tree_snapshot, write_site)

GOOD_POST = post_text(title="Good Post", date="2016-06-01T09:00:00-04:00")
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</title><script>alert(1)</script>",
    "]]><script>alert(1)</script>",
    "{{ 7*7 }}",
]


@pytest.fixture(scope="module")
def previous_output(tmp_path_factory) -> Path:
    """A good build's output, copied into each failing site to prove it is left alone."""
    site = write_site(tmp_path_factory.mktemp("good") / "site",
                      blog_files({"content/posts/good.md": GOOD_POST}))
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    return site / "output"


@pytest.fixture
def failing_build(make_blog, previous_output):
    """Build a site that must fail; check exit code, output untouched; return stderr."""
    def run(files: dict, exit_code: int = 1, args: tuple[str, ...] = ()) -> str:
        site = make_blog({"content/posts/good.md": GOOD_POST, **files})
        shutil.copytree(previous_output, site / "output")
        before = tree_snapshot(site / "output")
        result = build_in_process(site, *args)
        assert result.returncode == exit_code, result.stderr
        assert "Traceback" not in result.stderr
        assert "nothing was written" in result.stderr
        assert tree_snapshot(site / "output") == before
        return result.stderr
    return run


def located(stderr: str, path: str, line: int | None = None) -> str:
    """Return the message reported for path (at line), failing when there is none."""
    prefix = f"{path}:{line}:" if line is not None else f"{path}:"
    for message in stderr.splitlines():
        message = re.sub(r"^\d+\. ", "", message)
        if message.startswith(prefix):
            return message
    pytest.fail(f"no message at {prefix} in:\n{stderr}")


def built(make_blog, files: dict, *args: str) -> Path:
    site = make_blog(files)
    result = build_in_process(site, *args)
    assert result.returncode == 0, result.stderr
    return site / "output"


def fm(*lines: str, body: str = "Body.\n") -> str:
    return "---\n" + "".join(line + "\n" for line in lines) + "---\n" + body


BASE_FIELDS = ('title: "T"', "section: Trade Winds", "date: 2016-06-29")


# --- content errors: one case per failure ----------------------------------------------

def test_missing_title(failing_build):
    stderr = failing_build({"content/posts/a.md": fm("section: Trade Winds", "date: 2016-01-01")})
    assert "missing required field 'title'" in located(stderr, "content/posts/a.md", 1)


@pytest.mark.parametrize("date", ["2024-13-01", "2024-02-30"])
def test_bad_date(failing_build, date):
    stderr = failing_build({"content/posts/a.md": post_text(date=date)})
    message = located(stderr, "content/posts/a.md", 4)
    assert f"date '{date}' is not a date" in message
    assert "2024-12-01T09:30:00-05:00" in message


def test_unknown_section_lists_known_and_suggests_closest(failing_build):
    stderr = failing_build({"content/posts/a.md": post_text(section="North Korea Falout")})
    message = located(stderr, "content/posts/a.md", 3)
    assert 'did you mean "North Korea Fallout"' in message
    assert "known sections: North Korea Fallout, Trade Winds" in message


def test_unknown_section_with_a_slash(failing_build):
    stderr = failing_build({"content/posts/a.md": post_text(section="Trade Winds/Asia")})
    assert "unknown section 'Trade Winds/Asia'" in located(stderr, "content/posts/a.md", 3)


def test_malformed_yaml_reports_the_file_line(failing_build):
    text = fm('title: "T"', "section: Trade Winds", "date: 2016-06-29", "dek: a: b")
    stderr = failing_build({"content/posts/a.md": text})
    message = located(stderr, "content/posts/a.md", 5)
    assert "YAML" in message and "quotes" in message


def test_unclosed_quote_reports_a_line_in_the_file(failing_build):
    text = fm('title: "Unclosed', "section: Trade Winds", "date: 2016-06-29")
    stderr = failing_build({"content/posts/a.md": text})
    assert re.search(r"content/posts/a\.md:[2-5]:\d+: YAML", stderr)


def test_title_no_hints_to_quote(failing_build):
    stderr = failing_build({"content/posts/a.md": fm("title: no", *BASE_FIELDS[1:])})
    message = located(stderr, "content/posts/a.md", 2)
    assert 'title: "..." in quotes' in message


def test_tags_as_one_string(failing_build):
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, 'tags: "a, b"')})
    assert "tags: [a, b]" in located(stderr, "content/posts/a.md", 5)


def test_draft_as_a_string(failing_build):
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, 'draft: "false"')})
    assert "without quotes" in located(stderr, "content/posts/a.md", 5)


def test_unknown_field_did_you_mean(failing_build):
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, "sorces: []")})
    assert 'did you mean "sources"' in located(stderr, "content/posts/a.md", 5)


def test_empty_file(failing_build):
    stderr = failing_build({"content/posts/a.md": ""})
    assert "start the file with a '---' line" in located(stderr, "content/posts/a.md", 1)


def test_front_matter_never_closed(failing_build):
    stderr = failing_build({"content/posts/a.md": "---\n" + "\n".join(BASE_FIELDS) +
                            "\n\nThe body.\n"})
    assert "never closed" in located(stderr, "content/posts/a.md", 1)


def test_non_utf8_bytes_give_line_and_column(failing_build):
    data = fm(*BASE_FIELDS, body="Fine line.\nCaf\xe9\n").encode("latin-1")
    stderr = failing_build({"content/posts/a.md": data})
    message = located(stderr, "content/posts/a.md", 7)
    assert message.startswith("content/posts/a.md:7:4:")
    assert "UTF-8" in message


def test_control_character_in_title(failing_build):
    stderr = failing_build({"content/posts/a.md": fm('title: "Bell \\a here"', *BASE_FIELDS[1:])})
    assert "control character" in located(stderr, "content/posts/a.md", 2)


def test_empty_tag(failing_build):
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, "tags: [ok, '  ']")})
    assert "non-empty" in located(stderr, "content/posts/a.md", 5)


def test_post_over_4_mib_is_refused_on_size(failing_build):
    body = ("word " * 200 + "\n\n") * 4400  # 4.2 MiB
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, body=body)})
    assert "MiB limit" in located(stderr, "content/posts/a.md")


@pytest.mark.parametrize("yaml_line", [
    "tags: [&t Japan, *t]",
    "extra: {a: &x [1, 2], b: *x}",
])
def test_yaml_aliases_are_rejected(failing_build, yaml_line):
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, yaml_line)})
    assert "aliases" in located(stderr, "content/posts/a.md")


def test_duplicate_keys_are_rejected(failing_build):
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, 'title: "Again"')})
    assert "appears twice" in located(stderr, "content/posts/a.md", 5)


@pytest.mark.parametrize("value", ["!!python/object/apply:os.system ['touch /tmp/pwned']",
                                   "!!python/object:__main__.X {}", "!!binary aGVsbG8="])
def test_yaml_tags_are_rejected(failing_build, value):
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, f"dek: {value}")})
    located(stderr, "content/posts/a.md", 5)


@pytest.mark.parametrize("link", [
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](jav&#x61;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    '<a href="javascript&colon;alert(1)">x</a>',
    "![x](javascript:alert(1))",
    "[x][r]\n\n[r]: javascript:alert(1)",
])
def test_javascript_links_in_markdown_fail_a_strict_build(failing_build, link):
    stderr = failing_build({"content/posts/a.md": post_text(body=f"Intro.\n\n{link}\n")},
                           args=("--strict",))
    assert "can run code" in located(stderr, "content/posts/a.md")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)",
                                 " javascript:alert(1)", "jav&#x61;script:alert(1)",
                                 "data:text/html,<script>alert(1)</script>"])
def test_javascript_links_in_sources_are_errors(failing_build, url):
    text = fm(*BASE_FIELDS, "sources:", "  - name: Wire", f"    url: {json.dumps(url)}")
    stderr = failing_build({"content/posts/a.md": text})
    assert "http or https" in located(stderr, "content/posts/a.md", 5)


def test_missing_md_link_fails_a_strict_build_naming_file_and_line(failing_build):
    stderr = failing_build({"content/posts/a.md": post_text(body="One.\n\nTwo [x](../nope.md)\n")},
                           args=("--strict",))
    message = located(stderr, "content/posts/a.md", 8)
    assert "content/nope.md does not exist" in message


def test_every_problem_is_reported_in_one_run(failing_build):
    stderr = failing_build({"content/posts/a.md": post_text(date="2024-13-01"),
                            "content/posts/b.md": fm("title: no", *BASE_FIELDS[1:]),
                            "content/posts/c.md": post_text(section="Nowhere")})
    lines = [line for line in stderr.splitlines() if re.match(r"^\d+\. ", line)]
    assert [line.split(" ", 1)[1].split(":")[0] for line in lines] == [
        "content/posts/a.md", "content/posts/b.md", "content/posts/c.md"]
    assert [line.split(".")[0] for line in lines] == ["1", "2", "3"]
    assert "3 problems" in stderr


def test_undecodable_file_and_bad_post_are_reported_together(failing_build):
    stderr = failing_build({"content/posts/a.md": post_text(date="2024-13-01"),
                            "content/posts/c.md": b"\xff"})
    located(stderr, "content/posts/c.md", 1)
    located(stderr, "content/posts/a.md", 4)


def test_pathological_markdown_errors_or_builds_quickly(make_blog):
    bodies = ["".join("  " * depth + "- x\n" for depth in range(200)),
              "> " * 1000 + "deep\n", "[" * 10000 + "\n", "[a](" * 2000 + "\n",
              "*a " * 10000 + "\n", "<div>" * 2000 + "\n"]
    files = {f"content/posts/p{n}.md": post_text(title=f"P{n}", body=body)
             for n, body in enumerate(bodies)}
    site = make_blog(files)
    started = time.monotonic()
    result = run_build(site, "--now", "2030-01-01T00:00:00Z", timeout=60)
    assert time.monotonic() - started < 20
    assert result.returncode in (0, 1)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("char", ["\x1b", "\x00", "\x0c", "\ufffe"],
                         ids=["esc", "nul", "form-feed", "noncharacter"])
def test_control_character_in_a_body_is_an_error_or_dropped(make_blog, char):
    site = make_blog({"content/posts/a.md": post_text(body=f"Before.\n\nBad {char} here.\n")})
    result = build_in_process(site)
    if result.returncode == 0:
        data = (site / "output" / "feed.xml").read_bytes()
        assert feedparser.parse(data).bozo == 0
        assert char.encode() not in data
    else:
        assert result.returncode == 1
        located(result.stderr, "content/posts/a.md", 8)


def test_noncharacter_in_a_title_is_an_error(make_blog):
    site = make_blog({"content/posts/a.md": post_text(title="Bad \\ufffe title")})
    result = build_in_process(site)
    assert result.returncode == 1
    located(result.stderr, "content/posts/a.md", 2)


# --- inputs that must build ----------------------------------------------------------

def test_front_matter_only_builds_with_an_empty_body(make_blog):
    output = built(make_blog, {"content/posts/a.md": fm(*BASE_FIELDS, body="")})
    doc = parse_html(output / "2016/06/29/a/index.html")
    assert doc.xpath("string(//*[contains(@class,'post-body')])").strip() == ""


def test_second_fence_in_the_body_is_a_horizontal_rule(make_blog):
    output = built(make_blog, {"content/posts/a.md": fm(*BASE_FIELDS,
                                                        body="Above.\n\n---\n\nBelow.\n")})
    body = parse_html(output / "2016/06/29/a/index.html").xpath(
        "//*[contains(@class,'post-body')]")[0]
    assert [el.tag for el in body] == ["p", "hr", "p"]


def test_utf8_bom_is_accepted(make_blog):
    output = built(make_blog, {"content/posts/a.md": b"\xef\xbb\xbf" +
                               fm(*BASE_FIELDS).encode()})
    assert (output / "2016/06/29/a/index.html").is_file()


def test_crlf_gives_the_same_output_as_lf(make_blog, tmp_path):
    text = post_text(title="Line Endings", dek='"A dek"', body="Para one.\n\nPara two.\n")
    built(make_blog, {"content/posts/a.md": text}, "--output", str(tmp_path / "lf"))
    crlf_site = write_site(tmp_path / "crlf", blog_files(
        {"content/posts/a.md": text.replace("\n", "\r\n").encode()}))
    assert build_in_process(crlf_site).returncode == 0
    assert tree_snapshot(tmp_path / "lf") == tree_snapshot(crlf_site / "output")


def test_template_syntax_in_a_body_shows_literally(make_blog):
    output = built(make_blog, {"content/posts/a.md": post_text(
        body="Seven sevens: {{ 7*7 }} and {% raw %} and {# c #}\n")})
    text = parse_html(output / "2016/06/29/a/index.html").xpath(
        "string(//*[contains(@class,'post-body')])")
    assert "{{ 7*7 }}" in text and "{% raw %}" in text and "{# c #}" in text
    assert "49" not in text


def test_thousands_of_tags_build(make_blog):
    tags = ", ".join(f"Tag {n}" for n in range(2000))
    site = make_blog({"content/posts/a.md": post_text(tags=f"[{tags}]")})
    result = run_build(site, "--now", "2030-01-01T00:00:00Z", timeout=30)
    assert result.returncode == 0, result.stderr
    assert (site / "output/tags/tag-1999/index.html").is_file()


def test_hostile_text_is_escaped_in_html_and_feeds(make_blog):
    files = {}
    for n, text in enumerate(HOSTILE):
        quoted = json.dumps(text)
        files[f"content/posts/h{n}.md"] = fm(
            f"title: {quoted}", "section: Trade Winds", f"date: 2016-06-{n + 1:02d}",
            f"slug: hostile-{n}", f"dek: {quoted}", f"tags: [{json.dumps(f'{text} {n}')}]",
            f"author: {quoted}",
            "sources:", f"  - name: {quoted}", "    url: https://wire.example/")
    output = built(make_blog, files)
    for path in output.rglob("*.html"):
        doc = lxml.html.document_fromstring(path.read_bytes())
        assert not doc.xpath("//body//script[not(@src) and not(@type='application/ld+json')]"), path
        assert not doc.xpath("//img | //svg"), path
        assert not [el for el in doc.iter() if isinstance(el.tag, str)
                    and any(name.startswith("on") for name in el.attrib)], path
        assert "49" not in doc.xpath("string(//main)"), path
    for n, text in enumerate(HOSTILE):
        doc = parse_html(output / f"2016/06/{n + 1:02d}/hostile-{n}/index.html")
        article = doc.xpath("//article[contains(@class,'post')]")[0]
        prose = smarten_plain(text)  # titles and deks are typeset as the body is
        assert article.xpath("string(.//h1)") == prose
        assert article.xpath("string(.//*[contains(@class,'dek')])") == prose
        assert article.xpath(".//*[contains(@class,'sources')]//a/text()") == [text]
        assert article.xpath(".//*[contains(@class,'tags')]//a/text()") == [f"{text} {n}"]
        assert doc.xpath("string(//title)").startswith(prose)
        for script in doc.xpath("//script[@type='application/ld+json']"):
            assert json.loads(script.text)["headline"] == prose
    for feed_path in ("feed.xml", "trade-winds/feed.xml", "atom.xml"):
        data = (output / feed_path).read_bytes()
        assert feedparser.parse(data).bozo == 0
        root = lxml.etree.fromstring(data)
        assert not root.xpath("//*[local-name()='script' or local-name()='img']")
        titles = root.xpath("//*[local-name()='item' or local-name()='entry']"
                            "/*[local-name()='title']/text()")
        assert sorted(titles) == sorted(smarten_plain(text) for text in HOSTILE)

# --- config errors -------------------------------------------------------------------

def config_case(failing_build, config: str) -> str:
    return failing_build({"site.toml": config}, exit_code=2)


def test_malformed_toml_gives_line_and_column(failing_build):
    stderr = config_case(failing_build, MINIMAL_CONFIG.replace('title = "Test Blog"',
                                                               'title = "Test Blog'))
    assert re.search(r"^site\.toml:1:\d+: ", stderr, re.M)


def test_unknown_config_key_did_you_mean(failing_build):
    stderr = config_case(failing_build, MINIMAL_CONFIG.replace("timezone =", "timezon ="))
    assert 'did you mean "timezone"' in located(stderr, "site.toml", 5)


def test_wrong_config_type(failing_build):
    stderr = config_case(failing_build,
                         MINIMAL_CONFIG.replace("posts_per_page = 2", 'posts_per_page = "two"'))
    assert "must be a whole number" in located(stderr, "site.toml", 8)


def test_base_url_without_scheme(failing_build):
    stderr = config_case(failing_build, MINIMAL_CONFIG.replace('"https://example.org/"',
                                                               '"example.org"'))
    assert "absolute http(s) URL" in located(stderr, "site.toml", 3)


def test_unknown_timezone(failing_build):
    stderr = config_case(failing_build, MINIMAL_CONFIG.replace("America/New_York",
                                                               "America/Springfield"))
    assert "IANA" in located(stderr, "site.toml", 5)


def test_config_and_content_errors_together_exit_2(failing_build):
    stderr = failing_build({"site.toml": MINIMAL_CONFIG.replace("America/New_York", "Nowhere"),
                            "content/posts/a.md": post_text(date="2024-13-01")}, exit_code=2)
    assert "site.toml:5:" in stderr


def test_missing_site_toml_in_a_subprocess(tmp_path):
    (tmp_path / "content").mkdir()
    result = run_build(tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "site.toml" in result.stderr and "--site" in result.stderr
    assert not (tmp_path / "output").exists()


def test_content_error_in_a_subprocess_exits_1_without_traceback(make_blog):
    site = make_blog({"content/posts/a.md": post_text(date="2024-02-30")})
    result = run_build(site)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "content/posts/a.md:4: date '2024-02-30' is not a date" in result.stderr
    assert not (site / "output").exists()


def test_config_error_in_a_subprocess_exits_2_without_traceback(make_blog):
    site = make_blog({"site.toml": "unknown_thing = 1\n" + MINIMAL_CONFIG})
    result = run_build(site)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unknown key 'unknown_thing'" in result.stderr


# --- a quote or bracket left open, and a slug beyond the cap -----------------------------

@pytest.mark.parametrize("opened", ['dek: "Unclosed', "dek: 'Unclosed", "tags: [Japan, Korea"])
def test_an_unclosed_quote_or_bracket_is_reported_at_its_own_line(failing_build, opened):
    text = fm('title: "T"', opened, "section: Trade Winds", "date: 2016-06-29")
    stderr = failing_build({"content/posts/a.md": text})
    assert "never closed" in located(stderr, "content/posts/a.md", 3)
    assert "content/posts/a.md:5:" not in stderr  # where YAML ran out of text


def test_a_slug_beyond_the_cap_is_an_error_at_its_line(failing_build):
    long_slug = "-".join(["missile"] * 20)
    stderr = failing_build({"content/posts/a.md": fm(*BASE_FIELDS, f"slug: {long_slug}")})
    message = located(stderr, "content/posts/a.md", 5)
    assert "keep it to 80 or fewer" in message
