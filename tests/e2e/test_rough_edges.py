"""End-to-end: rough edges a new user meets first (issue 15, findings 4 and 8).

A very long headline, a write the file system refuses, a port out of range, a
mistyped command and the build summary's grammar.
"""

from __future__ import annotations

import errno
import subprocess
import sys

import pytest

from conftest import BUILD_SCRIPT, build_in_process, cli, parse_html, post_text, tree_snapshot

LONG_TITLE = " ".join(["Pyongyang", "Tests", "Another", "Missile"] * 62)[:1000]


def error_line(stderr: str) -> str:
    """The message argparse prints after its usage lines."""
    return stderr.strip().splitlines()[-1]


# --- finding 4: a very long title, and writes the file system refuses -------------------

def test_a_thousand_character_title_builds_and_a_long_file_name_gives_a_capped_slug(make_blog):
    assert len(LONG_TITLE) == 1000
    name = LONG_TITLE.lower().replace(" ", "-")[:200]  # a file name holds 255 bytes at most
    site = make_blog({f"content/posts/{name}.md": post_text(title=LONG_TITLE)})
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    [page] = (site / "output/2016/06/29").glob("*/index.html")
    slug = page.parent.name
    assert len(slug) <= 80 and slug.startswith("pyongyang-tests-another-missile-")
    assert not slug.endswith("-")
    assert parse_html(page).xpath("string(//h1)") == LONG_TITLE


def test_a_name_too_long_for_the_file_system_names_the_post_not_the_spare_tree(make_blog):
    # An alias is taken as written, so it can still make a name over 255 bytes.
    alias = "/" + "b" * 300 + "/"
    site = make_blog({"content/posts/good.md": post_text(title="Good")})
    assert build_in_process(site).returncode == 0
    before = tree_snapshot(site / "output")
    (site / "content/posts/a.md").write_text(post_text(title="Aliased", aliases=f"[{alias}]"),
                                             encoding="utf-8")
    result = build_in_process(site)
    assert result.returncode == 1
    [message] = [line for line in result.stderr.splitlines() if "cannot write" in line]
    assert message.startswith("content/posts/a.md (alias): cannot write 'bbbb")
    assert "/index.html' in the output" in message
    assert "too long" in message and "shorten the slug, url or alias" in message
    assert ".spare" not in result.stderr and ".tmp" not in result.stderr
    assert str(site) not in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_snapshot(site / "output") == before


def test_any_failed_write_names_the_source_and_the_output_path(make_blog, monkeypatch):
    import marginalia.write

    site = make_blog({"content/posts/disk-fills-up.md": post_text(title="Disk Fills Up")})
    real_write = marginalia.write._write_new

    def fill_the_disk(path: str, content: bytes) -> None:
        if "disk-fills-up" in path:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        real_write(path, content)

    monkeypatch.setattr(marginalia.write, "_write_new", fill_the_disk)
    result = build_in_process(site)
    assert result.returncode == 1
    assert ("content/posts/disk-fills-up.md: cannot write "
            "'2016/06/29/disk-fills-up/index.html' in the output (the disk is full); "
            "the previous site is untouched") in result.stderr
    assert ".spare" not in result.stderr and str(site) not in result.stderr
    assert not (site / "output").exists()


# --- finding 8: the port, the summary, mistyped commands ---------------------------------

@pytest.mark.parametrize("port", ["99999", "65536", "-1", "eighty"])
def test_serve_refuses_a_port_out_of_range_before_building(make_blog, port):
    site = make_blog({"content/posts/a.md": post_text()})
    code, out, err = cli("serve", "--site", str(site), "--port", port)
    assert code == 2
    assert f"'{port}' is not a port" in error_line(err) and "0 to 65535" in error_line(err)
    assert not (site / ".cache").exists()


def test_serve_with_a_port_out_of_range_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, str(BUILD_SCRIPT), "serve", "--site",
                             str(tmp_path), "--port", "99999"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr
    assert "'99999' is not a port" in result.stderr


@pytest.mark.parametrize("posts, summary", [(1, "built 1 post ("), (2, "built 2 posts (")])
def test_the_build_summary_counts_in_words_that_agree(make_blog, posts, summary):
    site = make_blog({f"content/posts/p{n}.md": post_text(title=f"Post {n}")
                      for n in range(posts)})
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(summary)
    assert "1 posts" not in result.stdout


def test_the_summary_of_a_rebuild_says_one_file_and_one_source(make_blog):
    site = make_blog({"content/posts/a.md": post_text()})
    assert build_in_process(site).returncode == 0
    (site / "content/pages/about.md").write_text("---\ntitle: About Us\n---\nNew words.\n",
                                                 encoding="utf-8")
    result = build_in_process(site)
    assert result.returncode == 0, result.stderr
    assert "; 1 source from cache," in result.stdout  # the post; the page was read again


def test_one_problem_is_counted_in_the_singular(make_blog):
    site = make_blog({"content/posts/a.md": post_text(date="2024-13-01")})
    result = build_in_process(site)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "1 problem; nothing was written"


@pytest.mark.parametrize("typed, meant", [("serv", "serve"), ("buidl", "build"),
                                          ("chek", "check"), ("lsit", "list")])
def test_a_mistyped_command_suggests_the_nearest(make_blog, typed, meant):
    site = make_blog({"content/posts/a.md": post_text()})
    code, out, err = cli(typed, "--site", str(site))
    assert code == 2
    assert error_line(err).endswith(f"unknown command '{typed}'; did you mean '{meant}'?")
    assert "unrecognized arguments" not in err
    assert not (site / "output").exists()


def test_a_word_like_no_command_lists_the_commands():
    code, out, err = cli("publish")
    assert code == 2
    assert "unknown command 'publish'; the commands are build, serve, new, check, list" in err


@pytest.mark.parametrize("options", [["--strict"], ["-v"], ["-q"], []])
def test_options_without_a_command_still_build(make_blog, options):
    site = make_blog({"content/posts/a.md": post_text()})
    code, out, err = cli("--site", str(site), "--now", "2030-01-01T00:00:00Z", *options)
    assert code == 0, err
    assert (site / "output/index.html").is_file()
