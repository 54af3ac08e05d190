"""End-to-end: lead and body images at several widths, share cards, the image cache,
and bad images reported with file and line."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import lxml.html
import pytest
from PIL import Image, ImageDraw

from conftest import blog_files, build_in_process, post_text, tree_snapshot, write_site

POST_URL = "2016/06/29/with-image/index.html"


def jpeg_bytes(width: int, height: int, colour: str = "#336699") -> bytes:
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, width - 10, height - 10), fill="#cc8844")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png_bytes(width: int, height: int) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((5, 5, width - 5, height - 5), fill=(200, 30, 30, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def huge_png_header(width: int = 40000, height: int = 40000) -> bytes:
    """A tiny file whose header claims far more pixels than is safe to decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def image_site_files(**lead_fields: str) -> dict[str, str | bytes]:
    fields = {"image": "photo.jpg", "image_alt": '"A ring, drawn"',
              "image_credit": '"Drawing: Us"', **lead_fields}
    return blog_files({
        "content/posts/with-image/index.md": post_text(
            "With an image", body="Text.\n\n![A chart](chart.png)\n\n"
                                  "![Remote](https://example.com/remote.png)\n", **fields),
        "content/posts/with-image/photo.jpg": jpeg_bytes(2400, 1400),
        "content/posts/with-image/chart.png": png_bytes(700, 400),
        "content/posts/plain.md": post_text("A post without a picture",
                                            date="2016-06-28T10:00:00-04:00",
                                            dek='"Its dek."'),
    })


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    site = write_site(tmp_path_factory.mktemp("images") / "site", image_site_files())
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    return site


def page(site: Path, rel_path: str = POST_URL):
    return lxml.html.document_fromstring((site / "output" / rel_path).read_bytes())


def output_file(site: Path, url: str) -> Path:
    assert url.startswith("/") or url.startswith("https://example.org/"), url
    return site / "output" / url.removeprefix("https://example.org/").lstrip("/")


def srcset_files(site: Path, srcset: str) -> list[tuple[Path, int]]:
    found = []
    for candidate in srcset.split(","):
        url, width = candidate.split()
        found.append((output_file(site, url), int(width.rstrip("w"))))
    return found


def test_lead_image_is_a_picture_under_the_headline_loaded_eagerly(built):
    doc = page(built)
    figure = doc.xpath("//article/header/following-sibling::*[1]"
                       "[self::figure][@class='lead-image']")[0]
    source = figure.xpath("./picture/source")[0]
    img = figure.xpath("./picture//img")[0]
    assert source.get("type") == "image/webp"
    assert [w for _, w in srcset_files(built, source.get("srcset"))] == [480, 960, 1440]
    assert img.get("loading") == "eager" and img.get("fetchpriority") == "high"
    assert img.get("alt") == "A ring, drawn"
    assert int(img.get("width")) and int(img.get("height"))
    assert figure.xpath("./figcaption")[0].text_content() == "Drawing: Us"
    for path, width in srcset_files(built, source.get("srcset")) + srcset_files(
            built, img.get("srcset")):
        with Image.open(path) as made:
            assert made.width == width
            assert abs(made.height - round(1400 * width / 2400)) <= 1
    with Image.open(output_file(built, img.get("src"))) as fallback:
        assert fallback.format == "JPEG"
        assert fallback.size == (int(img.get("width")), int(img.get("height")))


def test_body_png_gets_webp_and_png_at_widths_no_wider_than_itself(built):
    pictures = page(built).xpath("//div[@class='post-body']//picture")
    assert len(pictures) == 1
    img = pictures[0].xpath(".//img")[0]
    assert img.get("loading") == "lazy" and img.get("decoding") == "async"
    assert img.get("alt") == "A chart"
    assert (img.get("width"), img.get("height")) == ("700", "400")
    webp = srcset_files(built, pictures[0].xpath("./source")[0].get("srcset"))
    png = srcset_files(built, img.get("srcset"))
    assert [w for _, w in webp] == [w for _, w in png] == [480, 700]
    for path, width in webp + png:
        with Image.open(path) as made:
            assert made.width == width <= 700
            assert made.format == ("WEBP" if path.suffix == ".webp" else "PNG")


def test_remote_images_are_left_alone(built):
    remote = page(built).xpath('//img[@src="https://example.com/remote.png"]')
    assert remote and remote[0].getparent().tag != "picture"


def test_share_cards_are_absolute_and_1200_by_630(built):
    for rel_path in (POST_URL, "2016/06/28/plain/index.html"):
        doc = page(built, rel_path)
        url = doc.xpath('//meta[@property="og:image"]')[0].get("content")
        assert url.startswith("https://example.org/images/")
        assert doc.xpath('//meta[@name="twitter:image"]')[0].get("content") == url
        assert doc.xpath('//meta[@name="twitter:card"]')[0].get("content") == \
            "summary_large_image"
        assert doc.xpath('//meta[@property="og:image:width"]')[0].get("content") == "1200"
        with Image.open(output_file(built, url)) as card:
            assert card.size == (1200, 630)
    plain = page(built, "2016/06/28/plain/index.html")
    assert "/images/card-" in plain.xpath('//meta[@property="og:image"]')[0].get("content")


def test_json_ld_and_feeds_carry_the_lead_image_absolute(built):
    doc = page(built)
    data = json.loads(doc.xpath('//script[@type="application/ld+json"]')[0].text)
    assert data["image"]["url"].startswith("https://example.org/images/")
    assert output_file(built, data["image"]["url"]).is_file()
    rss = (built / "output/feed.xml").read_text()
    atom = (built / "output/atom.xml").read_text()
    feed = json.loads((built / "output/feed.json").read_text())
    assert '<enclosure url="https://example.org/images/' in rss
    assert 'rel="enclosure"' in atom
    item = next(i for i in feed["items"] if i["title"] == "With an image")
    assert output_file(built, item["image"]).is_file()


def test_second_build_makes_nothing_and_an_edited_image_only_its_own(tmp_path):
    site = write_site(tmp_path / "site", image_site_files())
    assert build_in_process(site).returncode == 0
    cache = site / ".cache/marginalia/images"

    def stamps():
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.iterdir()}

    first, output = stamps(), tree_snapshot(site / "output")
    assert build_in_process(site).returncode == 0
    assert stamps() == first
    assert tree_snapshot(site / "output") == output  # byte for byte
    (site / "content/posts/with-image/chart.png").write_bytes(png_bytes(600, 300))
    assert build_in_process(site).returncode == 0
    after = stamps()
    kept = set(first) & set(after)
    assert kept and all(after[name] == first[name] for name in kept)
    new = set(after) - set(first)
    assert len(new) == 4  # the new chart: 480 and 600 wide, WebP and PNG
    assert len(set(first) - set(after)) == 4  # the old chart's files, pruned
    assert not list((site / "output/images").glob("*-700.*"))  # the old chart's widths
    assert len(list((site / "output/images").glob("*-600.*"))) == 2


def test_a_clean_build_equals_an_incremental_one(tmp_path):
    site = write_site(tmp_path / "site", image_site_files())
    assert build_in_process(site).returncode == 0
    incremental = tree_snapshot(site / "output")
    assert build_in_process(site, "--no-cache").returncode == 0
    assert tree_snapshot(site / "output") == incremental
    other = write_site(tmp_path / "other", image_site_files())
    assert build_in_process(other).returncode == 0
    assert tree_snapshot(other / "output") == incremental


@pytest.mark.parametrize("files, message", [
    ({"content/posts/with-image/photo.jpg": None},
     "image 'content/posts/with-image/photo.jpg': no such file"),
    ({"content/posts/with-image/photo.jpg": b"this is not a picture"},
     "is not an image Pillow can read"),
    ({"content/posts/with-image/photo.jpg": huge_png_header()},
     "too large to decode safely"),
])
def test_bad_lead_images_fail_with_file_and_line(tmp_path, files, message):
    site = write_site(tmp_path / "site", image_site_files())
    assert build_in_process(site).returncode == 0
    before = tree_snapshot(site / "output")
    for rel_path, content in files.items():
        if content is None:
            (site / rel_path).unlink()
        else:
            (site / rel_path).write_bytes(content)
    result = build_in_process(site)
    assert result.returncode != 0
    # image: is the fourth line of the file (after ---, title, section, date).
    assert "content/posts/with-image/index.md:5:" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_snapshot(site / "output") == before


def test_a_pixel_limit_set_low_refuses_an_ordinary_image(tmp_path, monkeypatch):
    from marginalia import images

    site = write_site(tmp_path / "site", image_site_files())
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    result = build_in_process(site)
    assert result.returncode != 0
    assert "content/posts/with-image/index.md:5:" in result.stderr
    assert "too large to decode safely" in result.stderr
    assert not (site / "output").exists()


def test_missing_image_alt_names_the_line_of_image(tmp_path):
    files = image_site_files()
    files["content/posts/with-image/index.md"] = post_text(
        "No alt", image="photo.jpg")
    site = write_site(tmp_path / "site", files)
    result = build_in_process(site)
    assert result.returncode != 0
    assert "content/posts/with-image/index.md:5:" in result.stderr
    assert "image_alt" in result.stderr
    assert not (site / "output").exists()


def test_missing_body_image_is_only_a_broken_link_warning(tmp_path):
    files = image_site_files()
    files["content/posts/plain.md"] = post_text(
        "Missing picture", date="2016-06-28T10:00:00-04:00", body="![Gone](gone.png)\n")
    site = write_site(tmp_path / "site", files)
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert "gone.png" in result.stderr


def test_cards_can_be_turned_off_and_a_default_card_given(tmp_path):
    from conftest import MINIMAL_CONFIG

    files = image_site_files()
    files["site.toml"] = MINIMAL_CONFIG.replace(
        "[comments]", '[images]\ndefault_card = "content/images/card.png"\n\n[comments]')
    files["content/images/card.png"] = png_bytes(1600, 900)
    site = write_site(tmp_path / "site", files)
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    url = page(site, "2016/06/28/plain/index.html").xpath(
        '//meta[@property="og:image"]')[0].get("content")
    assert "-card.png" in url and "/images/card-" not in url
    with Image.open(output_file(site, url)) as card:
        assert card.size == (1200, 630)


def test_default_card_that_does_not_exist_names_the_line(tmp_path):
    from conftest import MINIMAL_CONFIG

    config = MINIMAL_CONFIG.replace(
        "[comments]", '[images]\ndefault_card = "content/images/nope.png"\n\n[comments]')
    site = write_site(tmp_path / "site", {**image_site_files(), "site.toml": config})
    result = build_in_process(site)
    line = config.splitlines().index('default_card = "content/images/nope.png"') + 1
    assert result.returncode != 0
    assert f"site.toml:{line}:" in result.stderr and "no such file" in result.stderr


def test_a_damaged_cache_file_is_made_again(tmp_path):
    site = write_site(tmp_path / "site", image_site_files())
    assert build_in_process(site).returncode == 0
    output = tree_snapshot(site / "output")
    cached = sorted((site / ".cache/marginalia/images").iterdir())
    good = cached[0].read_bytes()
    cached[0].write_bytes(b"")
    assert build_in_process(site).returncode == 0
    assert cached[0].read_bytes() == good
    assert tree_snapshot(site / "output") == output
