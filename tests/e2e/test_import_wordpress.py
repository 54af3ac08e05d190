"""End-to-end: importing a WordPress export, then building the site.

The main fixture is WordPress's own theme unit test data, read from the shared corpora
folder (never copied here); its tests skip when it is absent. Small exports written
inline cover what it lacks: private posts, http:// namespaces, uploads, bad input.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import lxml.html
import pytest
import yaml

from conftest import build_in_process, cli, sandbox_snapshot, tree_snapshot

CORPUS = (Path(__file__).resolve().parents[3] / "shared" / "corpora" / "wordpress"
          / "themeunittestdata.wordpress.xml")
NOW = "2026-12-01T00:00:00Z"
ZONE = "America/Los_Angeles"


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


def page(output: Path, url: str):
    return lxml.html.document_fromstring((output / url.strip("/") / "index.html").read_bytes())


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The theme unit test data imported into a new site and built once."""
    if not CORPUS.is_file():
        pytest.skip(f"the WordPress theme unit test data is not at {CORPUS}")
    site = tmp_path_factory.mktemp("wordpress") / "blog"
    code, out, err = cli("import", "wordpress", str(CORPUS), str(site), "--timezone", ZONE)
    assert code == 0, err
    built = build_in_process(site, now=NOW)
    assert built.returncode == 0, built.stderr
    report = json.loads((site / "import-report.json").read_text(encoding="utf-8"))
    return site, out, built, report


def test_import_and_build_succeed_without_warnings(imported):
    site, out, built, report = imported
    assert "warning" not in built.stderr
    assert "sections:" in out and "category 'Classic' -> section 'Classic'" in out
    assert "import-report.json" in out
    assert report["counts"]["posts"] == {"draft": 1, "password-protected": 1,
                                         "published": 55, "scheduled": 1}
    assert report["counts"]["pages"] == {"published": 21}


def test_published_posts_and_pages_are_built(imported):
    site, _, _, _ = imported
    output = site / "output"
    posts = sorted(site.glob("content/posts/*/*.md"))
    assert len(posts) == 58
    standard = page(output, "/2010/10/05/post-format-standard/")
    assert standard.findtext(".//h1").strip() == "Post Format: Standard"
    about = page(output, "/about/")
    assert about.findtext(".//h1").strip() == "About The Tests"
    built_posts = [p for p in output.glob("20[0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*/index.html")
                   if b"http-equiv=\"refresh\"" not in p.read_bytes()]
    assert len(built_posts) == 55


def test_scheduled_post_keeps_its_date_and_waits(imported):
    site, _, _, _ = imported
    scheduled = front_matter(site / "content/posts/2030/scheduled.md")
    assert scheduled["date"].startswith("2030-01-01T11:00:18-08:00")
    assert "draft" not in scheduled
    assert not (site / "output" / "2030").exists()


def test_password_protected_and_drafts_are_drafts(imported):
    site, _, _, report = imported
    protected = front_matter(site / "content/posts/2012/template-password-protected.md")
    draft = front_matter(site / "content/posts/2013/draft.md")
    assert protected["draft"] is True and draft["draft"] is True
    assert not (site / "output/2012/01/04/template-password-protected").exists()
    reasons = {n["file"]: n["detail"] for n in report["notes"]["draft"]}
    assert "password-protected" in reasons["content/posts/2012/template-password-protected.md"]


def test_no_menu_item_attachment_or_revision_became_a_post(imported):
    site, _, _, report = imported
    assert report["counts"]["not imported"] == {"nav_menu_item": 70}
    titles = {front_matter(p)["title"] for p in site.glob("content/**/*.md")}
    assert not titles & {"canola2", "Bell on Wharf", "Golden Gate Bridge", "Home", "About"}
    assert not any("nav_menu_item" in p.name for p in site.rglob("*"))


def test_captions_are_figures(imported):
    site, _, _, _ = imported
    doc = page(site / "output", "/2010/08/07/post-format-image-caption/")
    figure = doc.find(".//main//figure") if doc.find(".//main") is not None else doc.find(
        ".//figure")
    assert figure is not None
    assert figure.find(".//img") is not None
    assert figure.findtext(".//figcaption").strip() == "Bell on wharf in San Francisco"


def test_galleries_list_their_images(imported):
    site, _, _, _ = imported
    doc = page(site / "output", "/2010/09/09/post-format-gallery-tiled/")
    images = [img.get("alt") for img in doc.iterfind(".//ul/li/img")]
    assert images == ["Golden Gate Bridge", "Boardwalk", "Yachtsody in Blue",
                      "Sydney Harbor Bridge", "Big Sur", "Rusty Rail"][:len(images)]
    assert len(images) == 5  # id 763 is not in the export
    gallery = page(site / "output", "/2010/09/10/post-format-gallery/")
    assert len(gallery.findall(".//ul/li/img")) >= 20


def test_no_shortcode_or_block_comment_remains(imported):
    site, _, _, _ = imported
    for path in (site / "output").rglob("*.html"):
        raw = path.read_text(encoding="utf-8")
        doc = lxml.html.document_fromstring(raw)
        for code in doc.xpath("//pre | //code"):  # code samples may show them on purpose
            code.drop_tree()
        text = doc.text_content()
        for leftover in ("[gallery", "[caption", "<!-- wp:", "[audio", "<!--more"):
            assert leftover not in raw and leftover not in text, (path, leftover)


def test_old_permalinks_redirect(imported):
    site, _, _, report = imported
    output = site / "output"
    redirects = (output / "_redirects").read_text(encoding="utf-8")
    for path in site.glob("content/posts/*/*.md"):
        fields = front_matter(path)
        if fields.get("draft") or fields["date"].startswith("2030"):
            continue
        for alias in fields.get("aliases", []):
            target = output / alias.strip("/") / "index.html"
            assert b'http-equiv="refresh"' in target.read_bytes(), alias
            assert alias in redirects
    # A date permalink whose day moved with the time zone, and a name-only permalink.
    assert "/2018/11/03/block-gallery/" in front_matter(
        site / "content/posts/2018/block-gallery.md")["aliases"]
    assert (output / "wp-6-1-font-size-scale" / "index.html").is_file()
    # ?p= links cannot be pages on a static host: each is listed with the post's number.
    query = [n for n in report["notes"]["old-url"] if n["detail"].startswith("?p=")]
    assert len(query) == 56
    assert front_matter(site / "content/posts/2010/post-format-standard.md")["extra"] == {
        "wordpress_id": 358}


def test_greek_slugs_and_page_nesting(imported):
    site, _, _, report = imported
    output = site / "output"
    level3 = page(output, "/greek/epipedo-2/epipedo-3/")
    assert level3.findtext(".//h1").strip() == "Επίπεδο 3"
    assert front_matter(site / "content/pages/greek/epipedo-2/epipedo-3.md")["url"] == (
        "/greek/epipedo-2/epipedo-3/")
    assert page(output, "/level-1/level-2/level-3/").findtext(".//h1").strip() == "Level 3"
    assert page(output, "/about/page-with-comments/") is not None
    old = [n["detail"] for n in report["notes"]["old-url"]
           if n["file"] == "content/pages/greek/epipedo-2.md"]
    assert old and "/greek/επίπεδο-2/" in old[0]


def test_approved_comments_are_kept_outside_content(imported):
    site, _, _, report = imported
    comments = json.loads((site / "imported-comments/posts/2012/template-comments.json")
                          .read_text(encoding="utf-8"))
    every = " ".join(json.dumps(json.loads(p.read_text(encoding="utf-8")))
                     for p in site.glob("imported-comments/**/*.json"))
    assert len(comments) > 10 and all(c["author"] for c in comments)
    assert not any("email" in c or "ip" in c for c in comments)
    for unapproved in ("nothing useful to say", "chinese eggrolls", "Trackback test"):
        assert unapproved not in every
    assert report["counts"]["comments"]["unapproved (left out)"] == 3
    assert not list((site / "output").rglob("*.json.*")) and not any(
        "imported-comments" in str(p) for p in (site / "output").rglob("*"))


def test_report_lists_what_changed(imported):
    site, _, _, report = imported
    assert report["source"] == {"kind": "wordpress", "name": CORPUS.name}
    assert any(n["detail"].startswith("[simple]") for n in report["notes"]["shortcode"])
    assert report["notes"]["remote-image"]
    featured = {n["file"] for n in report["notes"]["featured-image"]}
    assert "content/posts/2010/post-format-image-caption.md" in featured
    for rel_path in report["files"]:
        assert (site / rel_path).is_file(), rel_path


def test_importing_again_changes_nothing_and_keeps_edits(imported, tmp_path):
    site = tmp_path / "blog"
    shutil.copytree(imported[0], site, ignore=shutil.ignore_patterns("output", ".cache"))
    before = tree_snapshot(site)
    code, out, err = cli("import", "wordpress", str(CORPUS), "--into", str(site))
    assert code == 0, err
    assert "0 written" in out
    assert tree_snapshot(site) == before

    edited = site / "content/posts/2010/post-format-standard.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nMy own note.\n",
                      encoding="utf-8")
    code, out, err = cli("import", "wordpress", str(CORPUS), "--into", str(site))
    assert code == 0, err
    assert "kept 1 file" in out and "My own note." in edited.read_text(encoding="utf-8")
    code, out, err = cli("import", "wordpress", str(CORPUS), "--into", str(site), "--force")
    assert code == 0, err
    assert "My own note." not in edited.read_text(encoding="utf-8")
    assert tree_snapshot(site) == before


# Small exports written here, for what the theme test data does not have.

WP_HTTP = "http://wordpress.org/export/1.2/"


def wxr(items: str, namespace: str = WP_HTTP, version: str = "1.2",
        channel: str = "") -> str:
    return textwrap.dedent(f"""\
        <?xml version="1.0" encoding="UTF-8"?>
        <rss version="2.0" xmlns:excerpt="{namespace}excerpt/"
             xmlns:content="http://purl.org/rss/1.0/modules/content/"
             xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="{namespace}">
        <channel>
        <title>Old Blog</title>
        <link>https://old.example.com</link>
        <description>Notes</description>
        <language>en-US</language>
        <wp:wxr_version>{version}</wp:wxr_version>
        <wp:author><wp:author_login>ed</wp:author_login>
          <wp:author_display_name><![CDATA[Ed Itor]]></wp:author_display_name></wp:author>
        <wp:category><wp:term_id>3</wp:term_id>
          <wp:category_nicename>world</wp:category_nicename>
          <wp:category_parent></wp:category_parent>
          <wp:cat_name><![CDATA[World]]></wp:cat_name></wp:category>
        <wp:category><wp:term_id>4</wp:term_id>
          <wp:category_nicename>asia</wp:category_nicename>
          <wp:category_parent>world</wp:category_parent>
          <wp:cat_name><![CDATA[Asia]]></wp:cat_name></wp:category>
        {channel}
        """) + items + "\n</channel>\n</rss>\n"


def item(post_id: int, title: str, content: str, status: str = "publish",
         post_type: str = "post", slug: str = "", date: str = "2016-06-29 16:40:00",
         extra: str = "") -> str:
    slug = slug or title.lower().replace(" ", "-")
    return f"""
<item>
  <title>{title}</title>
  <link>https://old.example.com/{date[:10].replace('-', '/')}/{slug}/</link>
  <dc:creator><![CDATA[ed]]></dc:creator>
  <guid isPermaLink="false">https://old.example.com/?p={post_id}</guid>
  <content:encoded><![CDATA[{content}]]></content:encoded>
  <excerpt:encoded><![CDATA[]]></excerpt:encoded>
  <wp:post_id>{post_id}</wp:post_id>
  <wp:post_date>{date}</wp:post_date>
  <wp:post_date_gmt>{date}</wp:post_date_gmt>
  <wp:comment_status>open</wp:comment_status>
  <wp:post_name>{slug}</wp:post_name>
  <wp:status>{status}</wp:status>
  <wp:post_parent>0</wp:post_parent>
  <wp:menu_order>0</wp:menu_order>
  <wp:post_type>{post_type}</wp:post_type>
  <wp:post_password></wp:post_password>
  <category domain="category" nicename="asia"><![CDATA[Asia]]></category>
  <category domain="post_tag" nicename="korea"><![CDATA[Korea]]></category>
  {extra}
</item>"""


def attachment(post_id: int, parent: int, path: str) -> str:
    url = f"https://old.example.com/wp-content/uploads/{path}"
    return f"""
<item>
  <title>{Path(path).stem}</title><link>https://old.example.com/?attachment_id={post_id}</link>
  <wp:post_id>{post_id}</wp:post_id><wp:post_type>attachment</wp:post_type>
  <wp:status>inherit</wp:status><wp:post_parent>{parent}</wp:post_parent>
  <wp:attachment_url>{url}</wp:attachment_url>
  <wp:postmeta><wp:meta_key>_wp_attached_file</wp:meta_key>
    <wp:meta_value><![CDATA[{path}]]></wp:meta_value></wp:postmeta>
</item>"""


def import_export(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str, Path]:
    export = tmp_path / "export.xml"
    export.write_text(text, encoding="utf-8")
    site = tmp_path / "blog"
    code, out, err = cli("import", "wordpress", str(export), str(site), "--timezone", "UTC",
                         *args)
    return code, out, err, site


def test_private_posts_are_drafts_and_http_namespaces_are_read(tmp_path):
    export = wxr(item(1, "Open Letter", "<p>Public words.</p>")
                 + item(2, "Secret Memo", "<p>Private words.</p>", status="private")
                 + item(3, "Old Rev", "x", status="inherit", post_type="revision")
                 + item(4, "Staff Only", "<p>Inside.</p>", status="private", post_type="page"))
    code, out, err, site = import_export(tmp_path, export)
    assert code == 0, err
    memo = front_matter(site / "content/posts/2016/secret-memo.md")
    assert memo["draft"] is True
    assert "2 made drafts" in out and "private on WordPress" in out
    letter = front_matter(site / "content/posts/2016/open-letter.md")
    assert letter["section"] == "World" and letter["tags"] == ["Asia", "Korea"]
    assert letter["author"] == "Ed Itor"
    assert 'name = "World"' in (site / "site.toml").read_text(encoding="utf-8")
    assert not list(site.glob("content/posts/**/old-rev*"))
    assert (site / "imported-drafts/pages/staff-only.md").is_file()
    assert not list(site.glob("content/**/staff-only*"))
    built = build_in_process(site, now=NOW)
    assert built.returncode == 0 and "warning" not in built.stderr, built.stderr
    assert not (site / "output/2016/06/29/secret-memo").exists()


def test_uploads_are_copied_into_the_post_bundle(tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "2016/06").mkdir(parents=True)
    (uploads / "2016/06/drill.jpg").write_bytes(b"\xff\xd8jpeg")
    content = ('[caption id="attachment_9" width="300"]<img src="https://old.example.com/'
               'wp-content/uploads/2016/06/drill.jpg" alt="Drill" /> Ships at sea[/caption]'
               '\n\nSee <a href="https://old.example.com/2016/06/28/earlier/">before</a> and '
               '<a href="https://old.example.com/?p=7">the same</a>.')
    export = wxr(item(1, "Drills", content) + attachment(9, 1, "2016/06/drill.jpg")
                 + item(7, "Earlier", "<p>First.</p>", date="2016-06-28 10:00:00"))
    code, out, err, site = import_export(tmp_path, export, "--uploads", str(uploads))
    assert code == 0, err
    bundle = site / "content/posts/2016/drills"
    assert (bundle / "drill.jpg").read_bytes() == b"\xff\xd8jpeg"
    body = (bundle / "index.md").read_text(encoding="utf-8")
    assert 'src="drill.jpg"' in body
    assert "(../earlier.md)" in body and body.count("../earlier.md") == 2
    built = build_in_process(site, now=NOW)
    assert built.returncode == 0 and "warning" not in built.stderr, built.stderr
    doc = page(site / "output", "/2016/06/29/drills/")
    assert doc.find(".//figure/img").get("src").endswith("/2016/06/29/drills/drill.jpg")
    assert doc.findtext(".//figcaption") == "Ships at sea"
    links = [a.get("href") for a in doc.xpath("//p[contains(., 'See')]/a")]
    assert len(links) == 2 and all(h.endswith("/2016/06/28/earlier/") for h in links)


def test_import_into_an_existing_site_keeps_its_settings(tmp_path, make_blog):
    site = make_blog({})
    config_before = (site / "site.toml").read_text(encoding="utf-8")
    (site / "site.toml").write_text("# my own comment\n" + config_before, encoding="utf-8")
    export = tmp_path / "export.xml"
    export.write_text(wxr(item(1, "Open Letter", "<p>Words.</p>")), encoding="utf-8")
    code, out, err = cli("import", "wordpress", str(export), "--into", str(site))
    assert code == 0, err
    config = (site / "site.toml").read_text(encoding="utf-8")
    assert config.startswith("# my own comment\n" + config_before)
    assert '[[sections]]\nname = "World"\nslug = "world"' in config
    built = build_in_process(site, now=NOW)
    assert built.returncode == 0 and "warning" not in built.stderr, built.stderr
    # New York is the fixture site's zone: the date is moved into it, with its offset.
    fields = front_matter(site / "content/posts/2016/open-letter.md")
    assert fields["date"] == "2016-06-29T12:40:00-04:00"


@pytest.mark.parametrize("text, message, line", [
    (wxr(item(1, "A", "<p>x</p>"))[:-40], "not well-formed XML", True),
    ("<html><body>Not an export</body></html>", "root element is <html>", True),
    (wxr(item(1, "A", "x")).replace("<wp:wxr_version>1.2</wp:wxr_version>", ""),
     "an RSS feed, not a WordPress export", True),
    (wxr(item(1, "A", "x"), version="2.0"), "WXR version '2.0'", True),
    ("", "not well-formed XML", False),
])
def test_bad_exports_write_nothing(tmp_path, text, message, line):
    before = sandbox_snapshot(tmp_path)
    export = tmp_path / "export.xml"
    export.write_text(text, encoding="utf-8")
    code, out, err = cli("import", "wordpress", str(export), str(tmp_path / "blog"))
    assert code == 1
    assert message in err
    assert re.search(r"export\.xml:\d+: " if line else r"export\.xml(:\d+)?: ", err), err
    assert "nothing was written" in err
    after = sandbox_snapshot(tmp_path)
    after.pop("export.xml")
    assert after == before


def test_bad_arguments_are_usage_errors(tmp_path):
    code, _, err = cli("import", "wordpress", str(tmp_path / "missing.xml"),
                       str(tmp_path / "blog"))
    assert code == 1 and "no such file" in err
    export = tmp_path / "export.xml"
    export.write_text(wxr(""), encoding="utf-8")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x", encoding="utf-8")
    code, _, err = cli("import", "wordpress", str(export), str(tmp_path / "full"))
    assert code == 2 and "not empty" in err
    code, _, err = cli("import", "wordpress", str(export), "--into", str(tmp_path / "full"))
    assert code == 2 and "no site.toml" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.xml", "full"]


THUMBNAIL = ("<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
             "<wp:meta_value><![CDATA[9]]></wp:meta_value></wp:postmeta>")


def test_a_featured_image_among_the_uploads_becomes_the_lead_image(tmp_path):
    from PIL import Image

    uploads = tmp_path / "uploads"
    (uploads / "2016/06").mkdir(parents=True)
    Image.new("RGB", (1600, 900), (40, 90, 160)).save(uploads / "2016/06/port.jpg")
    export = wxr(item(1, "Harbor", "<p>Ships.</p>", extra=THUMBNAIL)
                 + attachment(9, 1, "2016/06/port.jpg")
                 + item(2, "Elsewhere", "<p>No picture here.</p>", extra=THUMBNAIL.replace(
                     "[9]", "[10]")) + attachment(10, 2, "2016/06/gone.jpg"))
    code, out, err, site = import_export(tmp_path, export, "--uploads", str(uploads))
    assert code == 0, err
    harbor = front_matter(site / "content/posts/2016/harbor/index.md")
    assert (harbor["image"], harbor["image_alt"]) == ("port.jpg", "port")
    assert "featured_image" not in harbor["extra"]
    # One whose file is not among the uploads stays a link in extra, and is reported.
    elsewhere = front_matter(next(site.glob("content/posts/2016/elsewhere*")))
    assert "image" not in elsewhere and elsewhere["extra"]["featured_image"].endswith("gone.jpg")
    report = json.loads((site / "import-report.json").read_text(encoding="utf-8"))
    assert [n["file"] for n in report["notes"]["featured-image"]] == [
        str(next(site.glob("content/posts/2016/elsewhere*")).relative_to(site))]
    built = build_in_process(site, now=NOW)
    assert built.returncode == 0, built.stderr
    doc = page(site / "output", "/2016/06/29/harbor/")
    [lead] = doc.xpath("//picture//img[@loading='eager']")
    assert lead.get("alt") == "port" and lead.get("srcset").endswith("1440w")
