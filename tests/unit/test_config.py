"""Unit tests for marginalia.config: site.toml text in, a checked Config or ConfigError out."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL_CONFIG
from marginalia.config import load_config, parse_config
from marginalia.errors import BuildError, BuildErrors, ConfigError

SITE = Path("/x")


def config_errors(text: str) -> list[BuildError]:
    """Parse text that must fail and return the individual problems, all ConfigErrors."""
    with pytest.raises(BuildError) as caught:
        parse_config(text, SITE)
    error = caught.value
    assert error.exit_code == 2
    problems = list(error.errors) if isinstance(error, BuildErrors) else [error]
    assert all(isinstance(p, ConfigError) for p in problems), problems
    return problems


def test_minimal_config_is_read_with_its_values():
    config = parse_config(MINIMAL_CONFIG, SITE)
    assert config.site_dir == SITE
    assert config.title == "Test Blog"
    assert config.base_url == "https://example.org/"
    assert config.timezone == "America/New_York"
    assert config.publisher == "Example Media LLC"
    assert config.copyright_start_year == 2010
    assert config.posts_per_page == 2
    assert [(s.name, s.slug) for s in config.sections] == [
        ("North Korea Fallout", "north-korea-fallout"), ("Trade Winds", "trade-winds")]
    assert [(link.label, link.url) for link in config.footer_links] == [("About Us", "/about/")]
    assert config.comments.provider == "giscus"
    assert dict(config.comments.settings)["repo"] == "example/comments"


def test_defaults_fill_in_the_optional_keys():
    config = parse_config('title = "T"\nbase_url = "https://e.org"\npublisher = "P"\n'
                          '[[sections]]\nname = "News"\n', SITE)
    assert config.base_url == "https://e.org/"  # a trailing slash is added
    assert config.timezone == "UTC"
    assert config.posts_per_page == 10
    assert config.permalink == "/{year}/{month}/{day}/{slug}/"
    assert config.feed.items == 20 and config.feed.full_content is True
    assert config.comments.provider == "none"
    assert config.unsafe_html is False


def test_base_path_comes_from_base_url():
    text = MINIMAL_CONFIG.replace('base_url = "https://example.org/"',
                                  'base_url = "https://example.org/blog"')
    config = parse_config(text, SITE)
    assert config.base_url == "https://example.org/blog/"
    assert config.base_path == "/blog/"


def test_site_title_and_descriptions_are_typeset_as_the_body_is():
    text = (MINIMAL_CONFIG.replace('"Test Blog"', '"The Editor\'s Desk -- Daily"')
            .replace('description = "Fallout"', 'description = "\\"Fire\\" -- and fury"'))
    config = parse_config(text, SITE)
    assert config.title == "The Editor\u2019s Desk \u2014 Daily"
    assert config.sections[0].description == "\u201cFire\u201d \u2014 and fury"
    assert config.sections[0].name == "North Korea Fallout"


def test_without_smarty_text_stays_as_written():
    text = (MINIMAL_CONFIG.replace('"Test Blog"', '"The Editor\'s Desk"')
            + '\n[markdown]\nextensions = ["tables"]\n')
    assert parse_config(text, SITE).title == "The Editor's Desk"


@pytest.mark.parametrize("setting, dashes, title", [
    ("", "em", "A \u2014 B"),
    ('\n[typography]\ndashes = "em"\n', "em", "A \u2014 B"),
    ('\n[typography]\ndashes = "en"\n', "en", "A \u2013 B"),
])
def test_the_dash_convention_is_a_setting(setting, dashes, title):
    config = parse_config(MINIMAL_CONFIG.replace('"Test Blog"', '"A -- B"') + setting, SITE)
    assert (config.dashes, config.title) == (dashes, title)


def test_an_unknown_dash_convention_is_an_error_naming_the_line():
    text = MINIMAL_CONFIG + '\n[typography]\ndashes = "emm"\n'
    [error] = config_errors(text)
    assert "typography.dashes 'emm' is unknown" in error.message
    assert 'did you mean "em"' in error.message
    assert error.line == text.splitlines().index('dashes = "emm"') + 1


def test_config_is_frozen():
    config = parse_config(MINIMAL_CONFIG, SITE)
    with pytest.raises(AttributeError):
        config.title = "changed"  # type: ignore[misc]


def test_malformed_toml_names_line_and_column():
    text = MINIMAL_CONFIG.replace('language = "en"', 'language = "en')
    [error] = config_errors(text)
    assert error.path == "site.toml"
    assert error.line == text.splitlines().index('language = "en') + 1
    assert error.column is not None
    assert "check quotes" in error.message
    assert error.exit_code == 2


def test_unknown_key_suggests_the_closest():
    text = MINIMAL_CONFIG.replace("posts_per_page = 2", "post_per_page = 2")
    [error] = config_errors(text)
    assert "unknown key 'post_per_page'" in error.message
    assert 'did you mean "posts_per_page"' in error.message
    assert error.line == text.splitlines().index("post_per_page = 2") + 1


def test_unknown_nested_key_suggests_the_closest():
    [error] = config_errors(MINIMAL_CONFIG + "\n[feed]\nitem = 5\n")
    assert "unknown key 'feed.item'" in error.message
    assert 'did you mean "items"' in error.message


def test_wrong_type_is_named():
    text = MINIMAL_CONFIG.replace("posts_per_page = 2", 'posts_per_page = "2"')
    [error] = config_errors(text)
    assert "'posts_per_page' must be a whole number" in error.message
    assert "'2'" in error.message
    assert error.line == text.splitlines().index('posts_per_page = "2"') + 1


def test_bool_is_not_a_number():
    text = MINIMAL_CONFIG.replace("posts_per_page = 2", "posts_per_page = true")
    [error] = config_errors(text)
    assert "must be a whole number, not true" in error.message


@pytest.mark.parametrize("base_url", ["example.org", "//example.org/", "ftp://example.org/",
                                      "https://", "https://exa mple.org/"])
def test_base_url_must_be_absolute_http(base_url):
    text = MINIMAL_CONFIG.replace('"https://example.org/"', f'"{base_url}"')
    [error] = config_errors(text)
    assert "must be an absolute http(s) URL" in error.message
    assert error.line == 3


def test_unknown_timezone_is_an_error_with_examples():
    text = MINIMAL_CONFIG.replace("America/New_York", "America/Gotham")
    [error] = config_errors(text)
    assert "timezone 'America/Gotham' is not an IANA time zone name" in error.message
    assert "Europe/London" in error.message
    assert error.line == 5


@pytest.mark.parametrize("timezone", ["../../etc/passwd", "", "/etc/localtime"])
def test_timezone_path_tricks_are_errors(timezone):
    text = MINIMAL_CONFIG.replace("America/New_York", timezone)
    [error] = config_errors(text)
    assert "is not an IANA time zone name" in error.message


def test_missing_required_keys_are_listed_together():
    errors = config_errors('description = "only this"\n')
    messages = " | ".join(e.message for e in errors)
    for key in ("title", "base_url", "publisher", "sections"):
        assert f"missing required key '{key}'" in messages


def test_every_problem_is_reported_at_once():
    text = (MINIMAL_CONFIG.replace("posts_per_page = 2", "posts_per_page = 0")
            .replace("America/New_York", "Mars/Olympus")
            .replace('language = "en"', 'langauge = "en"'))
    errors = config_errors(text)
    assert len(errors) == 3
    assert [e.line for e in errors] == sorted(e.line for e in errors)


def test_permalink_needs_slug_and_known_fields():
    [error] = config_errors(MINIMAL_CONFIG.replace(
        'posts_per_page = 2', 'posts_per_page = 2\npermalink = "/{year}/{title}/"'))
    assert "'{title}' is unknown" in error.message
    [error] = config_errors(MINIMAL_CONFIG.replace(
        'posts_per_page = 2', 'posts_per_page = 2\npermalink = "/{year}/"'))
    assert "must contain {slug}" in error.message


def test_sections_sharing_a_slug_are_an_error():
    text = MINIMAL_CONFIG + '\n[[sections]]\nname = "Trade  Winds!"\n'
    [error] = config_errors(text)
    assert "share the slug 'trade-winds'" in error.message


def test_bad_comment_provider_suggests_the_closest():
    text = MINIMAL_CONFIG.replace('provider = "giscus"', 'provider = "giskus"')
    errors = config_errors(text)
    assert any('did you mean "giscus"' in e.message for e in errors)


def test_provider_none_needs_no_settings():
    text = MINIMAL_CONFIG.split("[comments]")[0] + '[comments]\nprovider = "none"\n'
    config = parse_config(text, SITE)
    assert config.comments.provider == "none"
    assert config.comments.settings == ()


def test_missing_site_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.path == "site.toml"
    assert "--site" in caught.value.message
    assert caught.value.exit_code == 2


def test_site_toml_with_bom_is_read(tmp_path):
    (tmp_path / "site.toml").write_bytes(b"\xef\xbb\xbf" + MINIMAL_CONFIG.encode())
    assert load_config(tmp_path).title == "Test Blog"


def test_site_toml_not_utf8_is_a_config_error(tmp_path):
    (tmp_path / "site.toml").write_bytes(MINIMAL_CONFIG.encode().replace(b"Test", b"T\xe9st"))
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(tmp_path)


def test_favicon_defaults_to_the_themes_svg():
    assert parse_config(MINIMAL_CONFIG, SITE).favicon == "theme/favicon.svg"


@pytest.mark.parametrize("value", ["theme/icon.png", "content/images/icon.png",
                                   "https://cdn.example/icon.png"])
def test_favicon_may_be_a_theme_or_content_file_or_a_url(tmp_path, value):
    for rel_path in ("theme/icon.png", "content/images/icon.png"):
        (tmp_path / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel_path).write_bytes(b"\x89PNG\r\n\x1a\n")
    text = MINIMAL_CONFIG.replace("posts_per_page = 2", f'posts_per_page = 2\nfavicon = "{value}"')
    assert parse_config(text, tmp_path).favicon == value


@pytest.mark.parametrize("value, message", [
    ("/favicon.ico", "must be a file under theme/ or content/"),
    ("favicon.ico", "must be a file under theme/ or content/"),
    ("static/icon.png", "must be a file under theme/ or content/"),
    ("theme/../site.toml", "must be a file under theme/ or content/"),
    ("ftp://example.org/icon.png", "must be a file under theme/ or content/"),
    ("theme/missing.png", "no such file"),
    ("content/missing.png", "no such file"),
])
def test_favicon_outside_the_site_or_missing_is_an_error_at_its_line(value, message):
    text = MINIMAL_CONFIG.replace("posts_per_page = 2", f'posts_per_page = 2\nfavicon = "{value}"')
    [error] = config_errors(text)
    assert message in error.message and value in error.message
    assert error.line == text.splitlines().index(f'favicon = "{value}"') + 1
