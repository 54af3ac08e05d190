"""The pure choices of the image stage: widths, formats, cache keys, card layout."""

from __future__ import annotations

import pytest

from marginalia.images import (CARD_SIZE, CardText, Palette, card_layout, centre_crop_box,
                               derived_key, fallback_format, fit_lines, measure_text,
                               responsive_body, responsive_widths, theme_palette, wrap_words)
from marginalia.model import ImageVariant, ResponsiveImage
from marginalia.parse import local_image_sources, resolve_image_path


@pytest.mark.parametrize("width, expected", [
    (2400, (480, 960, 1440)),
    (1440, (480, 960, 1440)),
    (1000, (480, 960, 1000)),
    (960, (480, 960)),
    (700, (480, 700)),
    (300, (300,)),
])
def test_widths_never_exceed_the_source(width, expected):
    assert responsive_widths(width) == expected
    assert max(responsive_widths(width)) <= width


def test_fallback_keeps_jpeg_and_png_and_gives_gif_and_webp_a_common_format():
    assert fallback_format("JPEG", False) == "JPEG"
    assert fallback_format("PNG", True) == "PNG"
    assert fallback_format("GIF", False) == "PNG"
    assert fallback_format("WEBP", False) == "JPEG"
    assert fallback_format("WEBP", True) == "PNG"


def test_cache_key_depends_on_every_input_and_only_on_them():
    key = derived_key("abc", "w960.WEBP")
    assert key == derived_key("abc", "w960.WEBP")
    assert key != derived_key("abd", "w960.WEBP")
    assert key != derived_key("abc", "w480.WEBP")


def test_cache_key_includes_pillows_version(monkeypatch):
    import PIL

    key = derived_key("abc", "w960.WEBP")
    monkeypatch.setattr(PIL, "__version__", "0.0.1")
    assert derived_key("abc", "w960.WEBP") != key


@pytest.mark.parametrize("size", [(2400, 1400), (1000, 1000), (600, 2000), (1200, 630)])
def test_centre_crop_has_the_cards_shape_and_stays_inside(size):
    left, top, right, bottom = centre_crop_box(*size, CARD_SIZE)
    assert 0 <= left < right <= size[0] and 0 <= top < bottom <= size[1]
    assert abs((right - left) / (bottom - top) - CARD_SIZE[0] / CARD_SIZE[1]) < 0.01


def test_wrap_breaks_at_spaces_and_breaks_a_word_too_long_for_a_line():
    measure = len  # one unit a character
    assert wrap_words("one two three four", 9, measure) == ["one two", "three", "four"]
    lines = wrap_words("a" * 25, 10, measure)
    assert lines == ["a" * 10, "a" * 10, "a" * 5]


def test_fit_lines_shrinks_then_cuts_with_an_ellipsis():
    def measure(text, size):
        return len(text) * size
    size, lines = fit_lines("word " * 4, 100, 1, (20, 5), measure)
    assert size == 5 and lines == ["word word word word"]
    size, lines = fit_lines("word " * 50, 100, 2, (20, 5), measure)
    assert size == 5 and len(lines) == 2 and lines[-1].endswith("\u2026")
    assert all(measure(line, size) <= 100 for line in lines)


@pytest.mark.parametrize("title, dek", [
    ("Short", ""),
    ("A headline of ordinary length about trade and tariffs", "A dek of one line."),
    ("Word " * 60, "Dek " * 80),
    ("Pneumonoultramicroscopicsilicovolcanoconiosis" * 4, ""),
])
def test_card_text_fits_the_card(title, dek):
    card = CardText("Trade Winds", title, dek, "The Marginal Note", Palette())
    runs = card_layout(card, measure_text)
    assert any(run.bold and run.size >= 42 for run in runs)  # the headline is there
    for run in runs:
        assert run.x >= 0 and run.x + measure_text(run.text, run.size, run.bold) <= CARD_SIZE[0]
        assert run.y >= 0 and run.y + run.size * 1.2 <= CARD_SIZE[1]
    tops = sorted(run.y for run in runs)
    assert len(tops) == len(set(tops))  # no two lines drawn over each other


def test_long_headlines_get_a_smaller_font():
    def headline_size(title):
        runs = card_layout(CardText("S", title, "", "Site", Palette()), measure_text)
        return max(run.size for run in runs)
    assert headline_size("Word " * 30) < headline_size("Short headline")


def test_palette_is_read_from_the_themes_light_scheme():
    css = (":root {\n  --text: #111111;\n  --accent: #00ff00;\n}\n"
           "@media (prefers-color-scheme: dark) { :root { --text: #eeeeee; } }")
    palette = theme_palette(css)
    assert palette.text == "#111111" and palette.accent == "#00ff00"
    assert palette.background == Palette().background


def test_image_paths_resolve_beside_the_post_or_under_content():
    post = "content/posts/a/index.md"
    assert resolve_image_path("photo.jpg", post) == "content/posts/a/photo.jpg"
    assert resolve_image_path("/images/x.png", post) == "content/images/x.png"
    assert resolve_image_path("content/images/x.png", post) == "content/images/x.png"
    assert resolve_image_path("../../../site.toml", post) is None
    assert resolve_image_path("https://example.com/x.jpg", post) is None


def test_only_local_image_sources_are_collected():
    body = ('<p><img alt="a" src="chart.png"><img src="https://x.example/y.png">'
            '<img src="//cdn.example/z.png"><img src="/images/w.jpg"></p>')
    assert local_image_sources(body) == ("chart.png", "/images/w.jpg")


def _image(url_stem: str) -> ResponsiveImage:
    def variant(width, ext, mime):
        return ImageVariant(f"/images/{url_stem}-{width}.{ext}", width, width // 2, mime,
                            "k")
    return ResponsiveImage("content/x.png", 700, 350,
                           (variant(480, "webp", "image/webp"), variant(700, "webp", "image/webp")),
                           (variant(480, "png", "image/png"), variant(700, "png", "image/png")))


def test_body_images_become_pictures_keeping_alt_and_title_and_escaping():
    body = '<p><img alt="a &quot;chart&quot;" src="/c.png" title="T"> <img src="/other.png"></p>'
    made = responsive_body(body, {"/c.png": _image("h")})
    assert made.count("<picture>") == 1
    assert ('<source type="image/webp" srcset="/images/h-480.webp 480w, '
            '/images/h-700.webp 700w"') in made
    assert 'alt="a &quot;chart&quot;"' in made and 'title="T"' in made
    assert 'loading="lazy"' in made and 'width="700" height="350"' in made
    assert '<img src="/other.png">' in made
