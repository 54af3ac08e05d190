"""End-to-end: what a host needs: redirects for aliases, cache headers, the JSON report,
exit codes (Ctrl-C included), and the GitHub Pages workflow."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from fnmatch import fnmatchcase
from pathlib import Path

import lxml.etree
import pytest
import yaml

from conftest import (BUILD_SCRIPT, MINIMAL_CONFIG, PROJECT_DIR, build_in_process, parse_html,
                      post_text, run_build, tree_snapshot, write_site)

NOW = "2030-01-01T00:00:00Z"
ABOUT = "---\ntitle: About Us\n---\nWho we are.\n"
ALPHA = post_text("Alpha", aliases="[/old/path/, /2015/alpha.html]")
BETA = post_text("Beta", section="Trade Winds", date="2016-07-01T09:00:00-04:00",
                 aliases="[/old/beta]")
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def alias_site(root: Path, **files: str) -> Path:
    return write_site(root, {"content/pages/about.md": ABOUT, "content/posts/alpha.md": ALPHA,
                             "content/posts/beta.md": BETA, **files})


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """The alias site built at its own base URL."""
    site = alias_site(tmp_path_factory.mktemp("published") / "site")
    result = build_in_process(site, now=NOW)
    assert result.returncode == 0, result.stderr
    return site / "output"


@pytest.fixture(scope="module")
def published_under_path(tmp_path_factory) -> Path:
    """The same site previewed under https://example.org/blog/."""
    site = alias_site(tmp_path_factory.mktemp("blog") / "site")
    result = build_in_process(site, "--base-url", "https://example.org/blog/", now=NOW)
    assert result.returncode == 0, result.stderr
    return site / "output"


def redirect_lines(output: Path) -> list[list[str]]:
    return [line.split() for line in (output / "_redirects").read_text("utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


# --- aliases --------------------------------------------------------------------------

@pytest.mark.parametrize("alias_file", ["old/path/index.html", "2015/alpha.html"])
def test_alias_page_sends_readers_to_the_permalink(published, alias_file):
    doc = parse_html(published / alias_file)
    target = "https://example.org/2016/06/29/alpha/"
    [refresh] = doc.xpath("//meta[@http-equiv='refresh']/@content")
    delay, _, url = refresh.partition(";")
    assert delay.strip() == "0"
    assert url.strip().removeprefix("url=") == target
    assert doc.xpath("//link[@rel='canonical']/@href") == [target]
    assert target in doc.xpath("//a/@href")
    assert (published / "2016/06/29/alpha/index.html").is_file()


def test_alias_without_a_trailing_slash_becomes_a_folder(published):
    assert (published / "old/beta/index.html").is_file()
    assert ["/old/beta/", "/2016/07/01/beta/", "301"] in redirect_lines(published)


def test_redirects_file_lists_every_alias_as_a_301(published):
    assert sorted(map(tuple, redirect_lines(published))) == [
        ("/2015/alpha.html", "/2016/06/29/alpha/", "301"),
        ("/old/beta/", "/2016/07/01/beta/", "301"),
        ("/old/path/", "/2016/06/29/alpha/", "301"),
    ]


def test_aliases_under_a_base_path_carry_it_on_both_sides(published_under_path):
    output = published_under_path
    assert ["/blog/old/path/", "/blog/2016/06/29/alpha/", "301"] in redirect_lines(output)
    assert all(src.startswith("/blog/") and dst.startswith("/blog/")
               for src, dst, _ in redirect_lines(output))
    doc = parse_html(output / "old/path/index.html")
    target = "https://example.org/blog/2016/06/29/alpha/"
    assert doc.xpath("//link[@rel='canonical']/@href") == [target]
    assert doc.xpath("//meta[@http-equiv='refresh']/@content")[0].endswith(target)


def test_sitemap_leaves_out_alias_redirect_pages(published):
    """Regression: alias redirect stubs (noindex, canonical elsewhere) used to be listed."""
    locs = lxml.etree.parse(str(published / "sitemap.xml")).xpath("//s:loc/text()",
                                                                  namespaces=SITEMAP_NS)
    assert "https://example.org/2016/06/29/alpha/" in locs
    assert not [loc for loc in locs if "/old/" in loc or loc.endswith("alpha.html")]


def test_alias_colliding_with_another_posts_url_names_both_files(tmp_path):
    site = alias_site(tmp_path / "site", **{
        "content/posts/beta.md": post_text("Beta", section="Trade Winds",
                                           date="2016-07-01T09:00:00-04:00",
                                           aliases="[/2016/06/29/alpha/]")})
    result = build_in_process(site, now=NOW)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [message] = [line for line in result.stderr.splitlines() if "2016/06/29/alpha" in line]
    assert "content/posts/alpha.md" in message and "content/posts/beta.md" in message
    assert not (site / "output").exists()


@pytest.mark.parametrize("alias", ["/old path/", "/old/*/", "/old/:id/"])
def test_alias_with_redirect_syntax_is_refused_or_escaped(tmp_path, alias):
    site = alias_site(tmp_path / "site", **{
        "content/posts/alpha.md": post_text("Alpha", aliases=json.dumps([alias]))})
    result = build_in_process(site, now=NOW)
    if result.returncode:
        assert result.returncode == 1 and alias in result.stderr
        assert "content/posts/alpha.md" in result.stderr
        return
    for fields in redirect_lines(site / "output"):
        assert len(fields) == 3 and fields[2] == "301", fields
        assert "*" not in fields[0] and not any(
            segment.startswith(":") for segment in fields[0].split("/"))


# --- cache headers --------------------------------------------------------------------

def header_rules(output: Path) -> list[tuple[str, dict[str, str]]]:
    """Parse _headers into (URL pattern, {header: value}) blocks, in order."""
    rules: list[tuple[str, dict[str, str]]] = []
    for line in (output / "_headers").read_text("utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            name, _, value = line.strip().partition(":")
            rules[-1][1][name.strip().lower()] = value.strip()
        else:
            rules.append((line.strip(), {}))
    return rules


def cache_controls(output: Path, path: str) -> list[str]:
    """Every Cache-Control value a request for path gets; hosts apply all matching rules."""
    return [headers["cache-control"] for pattern, headers in header_rules(output)
            if "cache-control" in headers and fnmatchcase(path, pattern)]


def fingerprinted_css(output: Path) -> str:
    [css] = [p.name for p in output.glob("style.*.css")]
    return css


@pytest.mark.parametrize("fixture, base", [("published", "/"),
                                           ("published_under_path", "/blog/")])
def test_headers_cache_the_fingerprinted_css_for_a_year_and_pages_briefly(
        request, fixture, base):
    output = request.getfixturevalue(fixture)
    css = fingerprinted_css(output)
    rules = dict(header_rules(output))
    assert rules[f"{base}{css}"]["cache-control"] == "public, max-age=31536000, immutable"
    named = [p for p in rules if p.startswith(base + "style.") and p.endswith(".css")]
    assert named == [f"{base}{css}"], "every CSS named in _headers exists in the output"
    for page in (f"{base}", f"{base}2016/06/29/alpha/", f"{base}index.html", f"{base}feed.xml"):
        # No rule at all leaves the host's default, which revalidates every visit.
        for value in cache_controls(output, page):
            assert "immutable" not in value
            ages = [int(age) for age in re.findall(r"max-age=(\d+)", value)]
            assert "no-cache" in value or (ages and max(ages) <= 300), value


def test_fingerprinted_css_gets_only_the_immutable_cache_rule(published):
    """Netlify and Cloudflare Pages apply every rule that matches, so a catch-all '/*'
    Cache-Control would be merged into the CSS's immutable one."""
    assert cache_controls(published, "/" + fingerprinted_css(published)) == [
        "public, max-age=31536000, immutable"]


# --- the JSON report ------------------------------------------------------------------

REPORT_SITE = {
    "content/pages/about.md": ABOUT,
    "content/posts/a.md": post_text("Alpha", tags="[Japan]"),
    "content/posts/b.md": post_text("Beta", section="Trade Winds", date="2016-07-01"),
    "content/posts/draft.md": post_text("Drafty", date="2016-02-01", draft="true"),
    "content/posts/later.md": post_text("Later", date="2031-05-01T08:00:00Z"),
    "content/posts/gone.md": post_text("Gone", date="2016-01-01", expires="2020-01-01"),
}


def test_report_describes_a_successful_build(make_site, tmp_path):
    site = make_site(REPORT_SITE)
    report_path = tmp_path / "reports" / "build.json"
    result = build_in_process(site, "--report", str(report_path), now=NOW)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text("utf-8"))
    output = tree_snapshot(site / "output")
    assert report["ok"] is True and report["errors"] == [] and report["warnings"] == []
    assert report["posts"] == 2
    assert report["posts_by_section"] == {"North Korea Fallout": 1, "Trade Winds": 1}
    assert report["pages"] == sum(p.endswith(".html") for p in output)
    assert report["feeds"] == sum(p.rsplit("/", 1)[-1] in ("feed.xml", "atom.xml", "feed.json")
                                  for p in output)
    held = {kind: [(p["path"], p["date"][:10]) for p in posts]
            for kind, posts in report["held_back"].items()}
    assert held == {"drafts": [("content/posts/draft.md", "2016-02-01")],
                    "future": [("content/posts/later.md", "2031-05-01")],
                    "expired": [("content/posts/gone.md", "2016-01-01")]}
    assert sorted(report["changes"]["added"]) == sorted(set(output) - {".marginalia-output"})
    assert report["changes"]["changed"] == report["changes"]["removed"] == []

    (site / "content/posts/b.md").unlink()
    result = build_in_process(site, "--report", str(report_path), now=NOW)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text("utf-8"))
    assert "2016/07/01/b/index.html" in report["changes"]["removed"]
    assert "index.html" in report["changes"]["changed"]
    # The search index is written anew under new content-named files; nothing else is new.
    added = report["changes"]["added"]
    assert added and all(p.startswith("pagefind/") for p in added)
    assert any(p.startswith("pagefind/") for p in report["changes"]["removed"])


def test_report_of_a_failed_build_has_the_errors_with_path_and_line(make_site, tmp_path):
    site = make_site({**REPORT_SITE,
                      "content/posts/bad.md": post_text("Bad", date="2016-13-01"),
                      "content/posts/worse.md": "---\ntitle: Worse\nsection: Nowhere\n"
                                                "date: 2016-01-01\n---\nx\n"})
    report_path = tmp_path / "report.json"
    result = build_in_process(site, "--report", str(report_path), now=NOW)
    assert result.returncode == 1
    report = json.loads(report_path.read_text("utf-8"))
    assert report["ok"] is False and report["exit_code"] == 1
    located = {(e["path"], e["line"]) for e in report["errors"]}
    assert located == {("content/posts/bad.md", 4), ("content/posts/worse.md", 3)}
    assert all(e["message"] for e in report["errors"])
    assert not (site / "output").exists()


def test_report_of_a_config_error_says_exit_2(make_site, tmp_path):
    site = make_site({"site.toml": MINIMAL_CONFIG.replace("posts_per_page = 2",
                                                          "posts_per_pgae = 2"),
                      "content/pages/about.md": ABOUT})
    report_path = tmp_path / "report.json"
    result = build_in_process(site, "--report", str(report_path), now=NOW)
    assert result.returncode == 2
    report = json.loads(report_path.read_text("utf-8"))
    assert report["ok"] is False and report["exit_code"] == 2
    [error] = report["errors"]
    assert error["path"] == "site.toml" and error["line"] == 8


BROKEN_LINK_SITE = {"content/pages/about.md": ABOUT,
                    "content/posts/a.md": post_text("Alpha", body="Intro.\n\nSee [x](/no/such/page/).\n")}


def test_plain_build_reports_a_broken_link_as_a_warning(make_site, tmp_path):
    """README: '--strict: warnings such as broken links become errors'."""
    site = make_site(BROKEN_LINK_SITE)
    report_path = tmp_path / "report.json"
    result = build_in_process(site, "--report", str(report_path), now=NOW)
    assert result.returncode == 0
    assert "/no/such/page/" in result.stderr
    [warning] = json.loads(report_path.read_text("utf-8"))["warnings"]
    assert (warning["path"], warning["line"]) == ("content/posts/a.md", 8)


# --- exit codes -----------------------------------------------------------------------

@pytest.mark.parametrize("case, files, args, code", [
    ("success", {}, (), 0),
    ("content error", {"content/posts/bad.md": post_text("Bad", date="2016-02-30")}, (), 1),
    ("bad site.toml", {"site.toml": MINIMAL_CONFIG.replace('title = "Test Blog"',
                                                           'title = "Test Blog')}, (), 2),
    ("unknown option", {}, ("--no-such-option",), 2),
])
def test_exit_codes_of_the_real_process(make_site, case, files, args, code):
    site = make_site({"content/pages/about.md": ABOUT, "content/posts/a.md": ALPHA, **files})
    result = run_build(site, "--now", NOW, *args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code:
        assert result.stderr.strip()
        assert (site / "output").exists() is False
    if case == "unknown option":
        assert "--no-such-option" in result.stderr


def interrupt_build(site: Path, posts: int) -> subprocess.CompletedProcess:
    """Add many posts, start a build, and press Ctrl-C while it writes the new tree."""
    write_site(site, {f"content/posts/gen/p{n:04d}.md": post_text(
        f"Generated {n}", section=("North Korea Fallout", "Trade Winds")[n % 2],
        date=f"2016-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00", tags=f"[T{n % 13}]",
        body=f"Body {n} with *words*.\n") for n in range(posts)})
    # Ctrl-C reaches the whole foreground process group, worker processes included.
    process = subprocess.Popen([sys.executable, str(BUILD_SCRIPT), "--site", str(site),
                                "--now", NOW], cwd=site, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if (site / ".output.spare" / ".marginalia-building").exists():
            os.killpg(process.pid, signal.SIGINT)
            break
        time.sleep(0.002)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ctrl_c_exits_130_and_leaves_the_previous_output(make_site):
    site = make_site({"content/pages/about.md": ABOUT, "content/posts/a.md": ALPHA})
    assert build_in_process(site, now=NOW).returncode == 0
    before = tree_snapshot(site / "output")
    for posts in (400, 1600):
        result = interrupt_build(site, posts)
        if result.returncode != 0:
            break
        before = tree_snapshot(site / "output")  # it finished first: try a bigger site
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert "interrupted" in result.stderr
    assert tree_snapshot(site / "output") == before
    assert {p.name for p in site.iterdir() if p.name.startswith(".")} <= {".cache",
                                                                          ".output.spare"}


# --- the GitHub Pages workflow --------------------------------------------------------

@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load((PROJECT_DIR / ".github/workflows/publish.yml").read_text("utf-8"))


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def test_workflow_triggers(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare 'on' as true
    assert triggers["push"]["branches"] == ["main"]
    assert "pull_request" in triggers
    [schedule] = triggers["schedule"]
    minute, hour, *_ = schedule["cron"].split()
    assert hour == "*", "scheduled posts go live within the hour"


def test_workflow_build_job_builds_strictly_and_uploads_output(workflow):
    build = workflow["jobs"]["build"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert any("python build.py" in r and "--strict" in r.split() for r in runs), runs
    [upload] = steps_using(build, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "output"
    assert steps_using(build, "actions/checkout")


def test_workflow_keeps_the_parse_cache_between_runs(workflow):
    from marginalia.store import STATE_PATH

    build = workflow["jobs"]["build"]
    [cache] = steps_using(build, "actions/cache")
    assert cache["with"]["path"] == STATE_PATH.rpartition("/")[0]
    # A new key each run saves the updated cache; the prefix restores the latest one.
    assert "github.run_id" in cache["with"]["key"]
    assert cache["with"]["key"].startswith(cache["with"]["restore-keys"])
    first_build = next(i for i, s in enumerate(build["steps"]) if "build.py" in s.get("run", ""))
    assert build["steps"].index(cache) < first_build


def test_workflow_deploy_job_needs_build_and_skips_pull_requests(workflow):
    deploy = workflow["jobs"]["deploy"]
    needs = deploy["needs"]
    assert needs == "build" or needs == ["build"]
    assert "github.event_name != 'pull_request'" in deploy["if"]
    assert deploy["permissions"]["pages"] == "write"
    assert deploy["permissions"]["id-token"] == "write"
    assert steps_using(deploy, "actions/deploy-pages")
    assert workflow.get("permissions", {}).get("pages") != "write", \
        "only the deploy job may write Pages"
