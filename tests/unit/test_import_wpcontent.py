"""Unit tests of the WordPress import's stages: reading WXR, WordPress's content syntax
and the conversion of HTML to Markdown."""

from __future__ import annotations

import pytest

from marginalia.errors import ContentError
from marginalia.importers.tomarkdown import html_to_markdown
from marginalia.importers.wpcontent import (Attachment, PostMedia, parse_attributes,
                                            prepare_content, wpautop)
from marginalia.importers.wxr import ExportReader

IMAGES = {n: Attachment(n, f"https://old.example.com/wp-content/uploads/{n}.jpg", 5,
                        f"Image {n}", f"Alt {n}", "", "", order)
          for n, order in ((10, 2), (11, 1), (12, 0))}
MEDIA = PostMedia(5, IMAGES, tuple(sorted(IMAGES.values(), key=lambda a: a.menu_order)))


def html_of(content: str, media: PostMedia = MEDIA) -> str:
    return prepare_content(content, media).html


def test_block_comments_go_and_their_content_stays():
    html = html_of("<!-- wp:paragraph -->\n<p>Kept.</p>\n<!-- /wp:paragraph -->\n"
                   '<!-- wp:image {"id":3} -->\n<figure><img src="a.jpg"/></figure>'
                   "\n<!-- /wp:image -->")
    assert "wp:" not in html and "<p>Kept.</p>" in html and '<img src="a.jpg"/>' in html


def test_more_and_nextpage_are_joined():
    html = html_of("Teaser.\n<!--more Read on-->\nRest.\n<!--nextpage-->\nPage two.")
    assert html == "<p>Teaser.</p>\n<p>Rest.</p>\n<p>Page two.</p>"


def test_wpautop_makes_paragraphs_and_line_breaks_but_leaves_pre():
    assert wpautop("One\ntwo\n\n<h2>Head</h2>\nThree\n<pre>a\n\nb</pre>") == (
        "<p>One<br>\ntwo</p>\n<h2>Head</h2>\n<p>Three</p>\n<pre>a\n\nb</pre>")


def test_block_editor_content_keeps_its_own_paragraphs():
    html = html_of("<!-- wp:paragraph -->\n<p>One\ntwo</p>\n<!-- /wp:paragraph -->")
    assert html.strip() == "<p>One\ntwo</p>"


def test_caption_becomes_a_figure():
    html = html_of('[caption id="attachment_9" align="alignnone" width="300"]'
                   '<a href="big.jpg"><img src="small.jpg" alt="Bell" /></a> Bell on a '
                   "<em>wharf</em>[/caption]")
    assert ('<figure><a href="big.jpg"><img src="small.jpg" alt="Bell" /></a>'
            "<figcaption>Bell on a <em>wharf</em></figcaption></figure>") in html.replace(
        "\n", "")
    assert "<figcaption>Old style</figcaption>" in html_of(
        '[caption caption="Old style"]<img src="x.jpg" />[/caption]')


def test_gallery_lists_images_by_ids_or_by_upload_order():
    listed = html_of('[gallery ids="12,10,99"]')
    assert listed.index("12.jpg") < listed.index("10.jpg") and "99" not in listed
    own = html_of("[gallery columns=\"3\" exclude=\"11\"]")
    assert own.count("<li>") == 2 and own.index("12.jpg") < own.index("10.jpg")
    assert 'alt="Alt 12"' in own
    empty = prepare_content("[gallery]", PostMedia(6, IMAGES, ()))
    assert empty.html == "" and "no images" in empty.changes[0]


def test_media_and_embeds_become_links():
    html = html_of('[audio mp3="https://x.example/a.mp3"][/audio] '
                   "[video src='https://x.example/v.mp4']\n\n"
                   "[embed]https://www.youtube.com/watch?v=abc[/embed]\n\n"
                   "https://twitter.com/x/status/1\n")
    assert '<a href="https://x.example/a.mp3">Audio: a.mp3</a>' in html
    assert '<a href="https://x.example/v.mp4">Video: v.mp4</a>' in html
    assert html.count('href="https://www.youtube.com/watch?v=abc"') == 1
    assert '<a href="https://twitter.com/x/status/1">' in html


def test_unknown_shortcodes_stay_and_are_listed():
    prepared = prepare_content('Before [poll id="3"] and [[gallery]] after.', MEDIA)
    assert '[poll id="3"]' in prepared.html and "[gallery]" in prepared.html
    assert prepared.unknown_shortcodes == ["poll"]


def test_shortcode_attributes_are_read_as_wordpress_does():
    assert parse_attributes(' ids="1,2" columns=3 link=\'file\' https://a.example/x ') == {
        "ids": "1,2", "columns": "3", "link": "file", 0: "https://a.example/x"}


def test_html_becomes_markdown_where_it_says_the_same():
    result = html_to_markdown("<p>Some <b>bold</b> and <a href='https://a.example/'>a "
                              "link</a>, E = mc<sup>2</sup>.</p><ul><li>one<ul><li>two"
                              "</li></ul></li></ul><blockquote>Quoted.</blockquote>")
    assert result.markdown == ("Some **bold** and [a link](https://a.example/), "
                               "E = mc<sup>2</sup>.\n\n- one\n    - two\n\n> Quoted.")
    assert result.html_blocks == 0


def test_html_without_a_markdown_equivalent_stays_clean_html():
    result = html_to_markdown('<table class="wp-table"><tr><td rowspan="2">a</td></tr>'
                              '</table><p style="color:red" onclick="x()">Hi</p>'
                              "<script>alert(1)</script>")
    assert result.markdown.startswith('<table><tbody><tr><td rowspan="2">a</td>')
    assert result.markdown.endswith("\n\nHi")
    assert "onclick" not in result.markdown and "script" not in result.markdown
    assert result.html_blocks == 1
    assert "<script> removed" in result.removed


def test_raw_html_blocks_hold_no_blank_line():
    result = html_to_markdown('<div id="keep"><p>a</p>\n\n<p>b</p></div>'
                              "<pre class=\"x\">one\n\ntwo</pre><table><tr><td>x</td></tr>"
                              "</table>")
    assert "\n\n" not in result.markdown.split("\n\n")[0]
    assert "```\none\n\ntwo\n```" in result.markdown


def test_frames_from_hosts_the_site_does_not_allow_become_links():
    result = html_to_markdown('<iframe src="https://www.youtube.com/embed/x"></iframe>')
    assert result.markdown == "<https://www.youtube.com/embed/x>"
    kept = html_to_markdown('<iframe src="https://www.youtube.com/embed/x"></iframe>',
                            iframe_hosts=("www.youtube.com",))
    assert "<iframe" in kept.markdown


def test_links_and_images_are_rewritten():
    result = html_to_markdown('<p><a href="https://old/a/">a</a> <img src="x.jpg" '
                              'srcset="x-300.jpg 300w"></p>',
                              rewrite=lambda url, name: f"{name}/{len(url)}")
    assert result.markdown == "[a](href/14) ![](src/5)"


def test_a_first_heading_moves_every_heading_down():
    result = html_to_markdown("<h1>Top</h1><h2>Sub</h2><h6>Least</h6>")
    assert result.markdown == "## Top\n\n### Sub\n\n###### Least"


def write_export(tmp_path, body: str, namespace: str = "https://wordpress.org/export/1.2/"):
    path = tmp_path / "export.xml"
    path.write_text(f'<?xml version="1.0"?>\n<rss xmlns:wp="{namespace}" '
                    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                    'xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/">\n'
                    f"<channel>\n<title>T</title>\n{body}\n</channel>\n</rss>\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("namespace", ["http://wordpress.org/export/1.1/",
                                       "https://wordpress.org/export/1.2/"])
def test_export_items_are_read_by_local_name(tmp_path, namespace):
    path = write_export(tmp_path, "<wp:wxr_version>1.1</wp:wxr_version>\n"
                        "<item><title>A &amp; B</title><wp:post_id>7</wp:post_id>"
                        "<content:encoded><![CDATA[<p>Body</p>]]></content:encoded>"
                        "<excerpt:encoded><![CDATA[Short]]></excerpt:encoded>"
                        "<wp:postmeta><wp:meta_key>k</wp:meta_key><wp:meta_value>v"
                        "</wp:meta_value></wp:postmeta></item>", namespace)
    reader = ExportReader(path, "export.xml")
    (item,) = list(reader.items())
    assert (item.id, item.title, item.content, item.excerpt) == (7, "A & B", "<p>Body</p>",
                                                                  "Short")
    assert item.meta == {"k": "v"} and item.line == 6
    assert reader.channel.title == "T" and reader.channel.wxr_version == "1.1"


def test_a_truncated_export_names_its_line(tmp_path):
    path = write_export(tmp_path, "<wp:wxr_version>1.2</wp:wxr_version>\n<item><title>A")
    path.write_text(path.read_text(encoding="utf-8")[:-30], encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        list(ExportReader(path, "export.xml").items())
    assert caught.value.path == "export.xml" and caught.value.line
    assert "not well-formed XML" in caught.value.message


def test_external_entities_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET", encoding="utf-8")
    path = tmp_path / "export.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY x SYSTEM '
                    f'"file://{secret}">]>\n<rss xmlns:wp="http://wordpress.org/export/1.2/">'
                    "<channel><wp:wxr_version>1.2</wp:wxr_version><item><title>&x;</title>"
                    "</item></channel></rss>", encoding="utf-8")
    items = list(ExportReader(path, "export.xml").items())
    assert "SECRET" not in items[0].title
