"""End-to-end: importing small Jekyll, Hugo and Zola sites written here, then building."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import lxml.html
import pytest
import yaml

from conftest import build_in_process, cli, sandbox_snapshot, tree_snapshot

NOW = "2026-12-01T00:00:00Z"
PNG = b"\x89PNG\r\n\x1a\n-not-really"

JEKYLL = {
    "_config.yml": """\
        title: "Jekyll Notes"
        description: "Notes on the news"
        url: "https://notes.example.com"
        timezone: America/New_York
        permalink: /:categories/:year/:month/:day/:title:output_ext
        """,
    "_posts/2016-06-29-missile-drills.md": """\
        ---
        layout: post
        title: "Missile Drills"
        date: 2016-06-29 16:40:00 -0400
        categories: [Korea, Defense]
        tags: [Japan]
        excerpt: "Allies drill together."
        mood: tense
        redirect_from: [/old-drills/]
        ---
        Earlier: [the summit]({% post_url 2016-06-01-summit %}) and [us]({% link about.md %}).

        ![map]({{ site.baseurl }}/assets/map.png)

        {% highlight python %}
        print("{{ not liquid }}")
        {% endhighlight %}

        {% include note.html %}
        """,
    "_posts/2016-06-01-summit.md": """\
        ---
        title: "Summit"
        category: Korea
        ---
        The summit, at [its old address](/korea/defense/2016/06/29/missile-drills.html).
        """,
    "_posts/2016-06-15-plain.html": ("---\ntitle: \"Plain\"\ncategories: [Korea]\n---\n"
                                     "<p>Hello <b>there</b>.</p>\n"),
    "_drafts/unfinished.md": "---\ntitle: \"Unfinished\"\ncategories: [Korea]\n---\nSoon.\n",
    "about.md": "---\ntitle: \"About Us\"\npermalink: /about/\n---\nWho we are.\n",
    "index.html": "---\nlayout: home\n---\n",
    "assets/map.png": PNG,
}

HUGO = {
    "hugo.toml": """\
        baseURL = "https://hugo.example.com/"
        title = "Hugo Notes"
        timeZone = "Europe/Berlin"
        [permalinks]
        posts = "/:year/:month/:slug/"
        """,
    "content/_index.md": "---\ntitle: Home\n---\n",
    "content/about.md": "---\ntitle: About\n---\nWho we are.\n",
    "content/posts/_index.md": "---\ntitle: Dispatches\ndescription: From the field\n---\n",
    "content/posts/first.md": """\
        +++
        title = "First Dispatch"
        date = 2016-06-29T16:40:00+02:00
        lastmod = 2016-07-01T09:00:00+02:00
        tags = ["Japan"]
        categories = ["Korea"]
        aliases = ["/old/first/"]
        weight = 3
        summary = "The first one."
        +++
        See [the second]({{< ref "second" >}}) and [about](/about/).

        {{< youtube dQw4w9WgXcQ >}}

        {{< unknown-widget size="big" >}}

        ```go
        {{</* youtube abc */>}}
        ```
        """,
    "content/posts/second/index.md": """\
        {
          "title": "Second Dispatch",
          "date": "2016-07-02T10:00:00+02:00",
          "author": "Ana Lyst",
          "tags": ["Korea"]
        }
        {{< figure src="chart.png" caption="The chart" alt="A chart" >}}
        """,
    "content/posts/second/chart.png": PNG,
    "content/posts/draft.md": "---\ntitle: Not Yet\ndate: 2016-07-03\ndraft: true\n---\nx\n",
    "content/posts/later.md": """\
        ---
        title: Later
        date: 2016-07-04
        publishDate: 2030-01-01T00:00:00Z
        expiryDate: 2031-01-01T00:00:00Z
        ---
        Later.
        """,
}

ZOLA = {
    "config.toml": """\
        base_url = "https://zola.example.com"
        title = "Zola Notes"
        taxonomies = [{name = "tags"}, {name = "categories"}]
        """,
    "content/_index.md": "+++\ntitle = \"Home\"\n+++\n",
    "content/about.md": "+++\ntitle = \"About\"\npath = \"about\"\n+++\nWho we are.\n",
    "content/blog/_index.md": "+++\ntitle = \"Blog\"\ndescription = \"Posts\"\n+++\n",
    "content/blog/2016-06-29-drills.md": """\
        +++
        title = "Drills"
        description = "Allies drill."
        aliases = ["/old/drills/"]
        [taxonomies]
        tags = ["Japan"]
        categories = ["Korea"]
        series = ["Summer"]
        [extra]
        mood = "tense"
        +++
        See [the other]( @/blog/other/index.md#top) post.

        {{ youtube(id="dQw4w9WgXcQ") }}

        {% note(kind="aside") %}
        Inside.
        {% end %}
        """,
    "content/blog/other/index.md": """\
        +++
        title = "Other"
        date = 2016-07-01
        updated = 2016-07-02
        +++
        ![photo](photo.jpg)
        """,
    "content/blog/other/photo.jpg": PNG,
}


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel_path, content in files.items():
        path = root / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
    return root


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


def body(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("---\n", 2)[2]


def import_and_build(tmp_path: Path, kind: str, files: dict) -> tuple[Path, str, dict]:
    source = write_tree(tmp_path / "old", files)
    site = tmp_path / "new"
    code, out, err = cli("import", kind, str(source), str(site))
    assert code == 0, err
    built = build_in_process(site, now=NOW)
    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr, built.stderr
    report = json.loads((site / "import-report.json").read_text(encoding="utf-8"))
    return site, out, report


def page(site: Path, url: str):
    return lxml.html.document_fromstring(
        (site / "output" / url.strip("/") / "index.html").read_bytes())


def is_redirect(site: Path, url: str) -> bool:
    path = site / "output" / url.lstrip("/")
    path = path / "index.html" if url.endswith("/") else path
    return b'http-equiv="refresh"' in path.read_bytes()


def test_jekyll_site(tmp_path):
    site, out, report = import_and_build(tmp_path, "jekyll", JEKYLL)
    post = site / "content/posts/2016/missile-drills.md"
    fields = front_matter(post)
    assert fields["title"] == "Missile Drills" and fields["section"] == "Korea"
    assert fields["date"] == "2016-06-29T16:40:00-04:00"
    assert fields["tags"] == ["Defense", "Japan"] and fields["dek"] == "Allies drill together."
    assert fields["extra"] == {"mood": "tense"}
    assert fields["aliases"] == ["/korea/defense/2016/06/29/missile-drills.html",
                                 "/old-drills/"]
    text = body(post)
    assert "[the summit](summit.md)" in text and "[us](../../pages/about.md)" in text
    assert "![map](/assets/map.png)" in text
    assert "```python\nprint(\"{{ not liquid }}\")" in text
    assert "{% include note.html %}" in text
    assert (site / "content/assets/map.png").read_bytes() == PNG
    summit = body(site / "content/posts/2016/summit.md")
    assert "[its old address](missile-drills.md)" in summit
    assert front_matter(site / "content/posts/2026/unfinished.md")["draft"] is True
    assert body(site / "content/posts/2016/plain.md").strip() == "Hello **there**."
    assert front_matter(site / "content/pages/about.md")["url"] == "/about/"
    assert "section 'Korea'" in out
    assert any("include note.html" in n["detail"] for n in report["notes"]["shortcode"])
    assert is_redirect(site, "/korea/defense/2016/06/29/missile-drills.html")
    assert is_redirect(site, "/old-drills/")
    doc = page(site, "/2016/06/29/missile-drills/")
    assert doc.xpath("//a[.='the summit']/@href") == ["/2016/06/01/summit/"]
    assert doc.xpath("//img[@alt='map']/@src") == ["/assets/map.png"]
    assert 'name = "Korea"' in (site / "site.toml").read_text(encoding="utf-8")
    assert "Jekyll Notes" in (site / "site.toml").read_text(encoding="utf-8")


def test_hugo_site(tmp_path):
    site, out, report = import_and_build(tmp_path, "hugo", HUGO)
    first = front_matter(site / "content/posts/2016/first.md")
    assert first["section"] == "Dispatches" and first["tags"] == ["Korea", "Japan"]
    assert first["date"] == "2016-06-29T16:40:00+02:00"
    assert first["updated"] == "2016-07-01T09:00:00+02:00"
    assert first["dek"] == "The first one." and first["extra"] == {"weight": 3}
    assert first["aliases"] == ["/2016/06/first-dispatch/", "/old/first/"]
    text = body(site / "content/posts/2016/first.md")
    assert "[the second](second/index.md)" in text and "[about](../../pages/about.md)" in text
    assert "<https://www.youtube.com/watch?v=dQw4w9WgXcQ>" in text
    assert '{{< unknown-widget size="big" >}}' in text and "{{< youtube abc >}}" in text
    second = site / "content/posts/2016/second/index.md"
    assert front_matter(second)["author"] == "Ana Lyst"
    assert (second.parent / "chart.png").read_bytes() == PNG
    doc = page(site, "/2016/07/02/second/")
    assert doc.xpath("//figure/figcaption/text()") == ["The chart"]
    assert doc.xpath("//figure/img/@src") == ["/2016/07/02/second/chart.png"]
    assert front_matter(site / "content/posts/2016/draft.md")["draft"] is True
    later = front_matter(site / "content/posts/2030/later.md")
    assert later["date"].startswith("2030-01-01") and later["expires"].startswith("2031")
    assert not (site / "output/2030").exists()
    assert is_redirect(site, "/old/first/") and is_redirect(site, "/2016/06/first-dispatch/")
    assert any("unknown-widget" in n["detail"] for n in report["notes"]["shortcode"])
    config = (site / "site.toml").read_text(encoding="utf-8")
    assert 'name = "Dispatches"' in config and 'description = "From the field"' in config
    assert 'timezone = "Europe/Berlin"' in config
    assert 'engine = "commonmark"' in config
    assert page(site, "/about/").findtext(".//h1").strip() == "About"


def test_zola_site(tmp_path):
    site, out, report = import_and_build(tmp_path, "zola", ZOLA)
    drills = site / "content/posts/2016/drills.md"
    fields = front_matter(drills)
    assert fields["section"] == "Blog" and fields["tags"] == ["Korea", "Japan"]
    assert fields["dek"] == "Allies drill."
    assert fields["extra"] == {"mood": "tense", "taxonomies": {"series": ["Summer"]}}
    assert fields["aliases"] == ["/blog/drills/", "/old/drills/"]
    text = body(drills)
    assert "[the other]( other/index.md#top)" in text
    assert "<https://www.youtube.com/watch?v=dQw4w9WgXcQ>" in text
    assert '{% note(kind="aside") %}' in text
    other = site / "content/posts/2016/other/index.md"
    assert (other.parent / "photo.jpg").read_bytes() == PNG
    assert front_matter(other)["updated"].startswith("2016-07-02")
    doc = page(site, "/2016/06/29/drills/")
    assert doc.xpath("//a[.='the other']/@href") == ["/2016/07/01/other/#top"]
    assert is_redirect(site, "/blog/drills/") and is_redirect(site, "/old/drills/")
    assert page(site, "/about/").findtext(".//h1").strip() == "About"
    assert any("note(" in n["detail"] for n in report["notes"]["shortcode"])
    assert 'engine = "commonmark"' in (site / "site.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind, files", [("jekyll", JEKYLL), ("hugo", HUGO), ("zola", ZOLA)])
def test_importing_again_changes_nothing(tmp_path, kind, files):
    source = write_tree(tmp_path / "old", files)
    site = tmp_path / "new"
    assert cli("import", kind, str(source), str(site))[0] == 0
    before = tree_snapshot(site)
    code, out, err = cli("import", kind, str(source), "--into", str(site))
    assert code == 0, err
    assert tree_snapshot(site) == before and "0 written" in out


@pytest.mark.parametrize("kind, files, message", [
    ("hugo", JEKYLL, "not a Hugo site: no hugo.toml or config.toml (with baseURL); it "
                     "looks like a Jekyll site: use 'import jekyll'"),
    ("zola", HUGO, "not a Zola site: no config.toml with base_url; it looks like a Hugo "
                   "site: use 'import hugo'"),
    ("jekyll", ZOLA, "not a Jekyll site: no _config.yml and no _posts/ folder; it looks "
                     "like a Zola site: use 'import zola'"),
    ("jekyll", {"_posts/2016-01-01-a.md": "---\ntitle: [unclosed\n---\n"}, "YAML:"),
    ("hugo", {**HUGO, "content/posts/bad.md": "+++\ntitle = \n+++\n"}, "TOML:"),
    ("zola", {**ZOLA, "content/blog/bad.md": "+++\ntitle = \"x\"\n"}, "never closed"),
])
def test_wrong_or_broken_sites_write_nothing(tmp_path, kind, files, message):
    source = write_tree(tmp_path / "old", files)
    before = sandbox_snapshot(tmp_path)
    code, out, err = cli("import", kind, str(source), str(tmp_path / "new"))
    assert code == 1, out
    assert message in err and "nothing was written" in err
    assert sandbox_snapshot(tmp_path) == before


def test_broken_file_is_named_with_its_line(tmp_path):
    source = write_tree(tmp_path / "old", {**HUGO, "content/posts/bad.md":
                                          "+++\ntitle = \"x\"\ndate = \n+++\n"})
    code, _, err = cli("import", "hugo", str(source), str(tmp_path / "new"))
    assert code == 1 and "content/posts/bad.md:3: TOML:" in err
