"""End-to-end: starting a new site with init, overriding defaults, and the command line
a user of other generators expects (--version, help, the program's name)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata

import feedparser
import html5lib
import pytest

from conftest import BUILD_SCRIPT, cli

NOW = "2026-03-04T15:30:00Z"
XHTML = "{http://www.w3.org/1999/xhtml}"


def init(folder, *args: str):
    return cli("init", str(folder), "--timezone", "America/New_York", "--now", NOW, *args)


def page(output, url: str):
    path = output / url.strip("/") / "index.html" if url != "/" else output / "index.html"
    with open(path, "rb") as handle:
        return html5lib.parse(handle.read(), namespaceHTMLElements=False)


def test_init_makes_a_site_that_builds_without_a_warning(tmp_path):
    site = tmp_path / "myblog"
    code, out, err = init(site, "--title", 'The "Daily" Margin', "--publisher",
                          "Margin Media LLC", "--base-url", "https://margin.example/blog")
    assert code == 0, err
    assert "cd " in out and "serve" in out
    config = tomllib.loads((site / "site.toml").read_text(encoding="utf-8"))
    assert config["title"] == 'The "Daily" Margin'
    assert config["base_url"] == "https://margin.example/blog/"
    assert config["comments"]["provider"] == "none"
    assert (site / ".gitignore").read_text().count("/output/") == 1
    assert "marginalia check" in (site / ".github/workflows/publish.yml").read_text()
    assert f"marginalia=={metadata.version('marginalia')}" in (
        site / "requirements.txt").read_text()

    code, out, err = cli("build", "--site", str(site), "--now", NOW)
    assert code == 0, err
    assert "warning" not in err
    output = site / "output"
    welcome = page(output, "/2026/03/04/welcome/")
    assert welcome.findtext(".//h1").startswith("Welcome")
    assert welcome.find(".//blockquote") is not None
    footer_links = {a.text: a.get("href") for a in welcome.iterfind(".//footer//a")}
    assert footer_links["About"] == "/blog/about/"
    about = page(output, "/about/")
    assert about.findtext(".//h1") == "About"
    assert "Margin Media LLC" in "".join(about.find(".//footer").itertext())
    feed = feedparser.parse((output / "feed.xml").read_bytes())
    assert not feed.bozo and [e.title for e in feed.entries] == [welcome.findtext(".//h1")]
    assert feed.entries[0].link == "https://margin.example/blog/2026/03/04/welcome/"
    assert len(json.loads((output / "feed.json").read_text())["items"]) == 1


def test_init_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = init(tmp_path)
    assert code == 2
    assert "not empty" in err and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_with_force_adds_files_and_replaces_none(tmp_path):
    (tmp_path / "site.toml").write_text("# mine\n")
    code, out, err = init(tmp_path, "--force")
    assert code == 0, err
    assert (tmp_path / "site.toml").read_text() == "# mine\n"
    assert "site.toml (kept" in out
    assert (tmp_path / "content/pages/about.md").is_file()


def test_init_refuses_an_unknown_time_zone(tmp_path):
    code, _, err = cli("init", str(tmp_path / "new"), "--timezone", "Mars/Olympus")
    assert code == 2 and "unknown time zone 'Mars/Olympus'" in err
    assert not (tmp_path / "new").exists()


def test_a_copied_layout_overrides_the_default_one(tmp_path):
    site = tmp_path / "site"
    assert init(site)[0] == 0
    code, out, err = cli("layouts", "--site", str(site), "--copy", "post.html")
    assert code == 0, err
    layout = site / "layouts/post.html"
    layout.write_text(layout.read_text().replace("</article>", "<p id=own>ours</p></article>"))
    code, listing, _ = cli("layouts", "--site", str(site))
    assert "post.html (the site's own)" in listing
    assert cli("build", "--site", str(site), "--now", NOW)[0] == 0
    assert page(site / "output", "/2026/03/04/welcome/").find(".//p[@id='own']") is not None
    assert page(site / "output", "/about/").find(".//p[@id='own']") is None


def test_copying_a_layout_twice_or_a_missing_one_is_refused(tmp_path):
    site = tmp_path / "site"
    assert init(site)[0] == 0
    assert cli("layouts", "--site", str(site), "--copy", "style.css")[0] == 0
    assert (site / "theme/style.css").is_file()
    code, _, err = cli("layouts", "--site", str(site), "--copy", "style.css")
    assert code == 2 and "--force" in err
    code, _, err = cli("layouts", "--site", str(site), "--copy", "footr.html")
    assert code == 2 and 'did you mean "footer.html"' in err


def test_version_comes_from_the_package_metadata():
    code, out, _ = cli("--version")
    assert code == 0
    assert out.strip() == (f"marginalia {metadata.version('marginalia')} "
                           f"(Python {sys.version.split()[0]})")


@pytest.mark.parametrize("typed, meant", [("int", "init"), ("layout", "layouts")])
def test_a_mistyped_command_suggests_the_right_one(typed, meant):
    code, _, err = cli(typed)
    assert code == 2 and f"did you mean '{meant}'" in err


def test_every_option_has_help_and_serve_offers_only_what_applies():
    from marginalia.cli import make_parser

    parser = make_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    serve_options = {o for a in commands["serve"]._actions for o in a.option_strings}
    assert {"--open", "--no-drafts", "--host", "--port"} <= serve_options
    assert not serve_options & {"--drafts", "--future", "--force", "--strict", "--no-cache"}


@pytest.mark.parametrize("program, shown", [
    ([str(BUILD_SCRIPT)], "build.py"),
    (["-m", "marginalia"], "python -m marginalia"),
])
def test_the_usage_line_names_the_program_as_it_was_run(tmp_path, program, shown):
    result = subprocess.run([sys.executable, *program, "--help"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: {shown} ")


def test_no_site_toml_says_how_to_start_one(tmp_path):
    code, _, err = cli("build", "--site", str(tmp_path))
    assert code == 2 and "marginalia init" in err

