"""The preview's rebuilder: what it tells open tabs after each build."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from conftest import post_text
from marginalia.pipeline import BuildOptions
from marginalia.preview_server import PreviewState
from marginalia.serve import Rebuilder

POST = "content/north-korea-fallout/first.md"


def make_rebuilder(site_dir) -> tuple[Rebuilder, PreviewState]:
    options = BuildOptions(site_dir=site_dir, output_dir=site_dir / ".cache/preview",
                           now=datetime(2026, 1, 1, tzinfo=timezone.utc),
                           base_url="http://127.0.0.1:8000/", drafts=True, future=True,
                           preview=True)
    state = PreviewState()
    rebuilder = Rebuilder(options, state)
    rebuilder.build_once(first=True)
    return rebuilder, state


def test_a_failed_build_whose_sources_changed_meanwhile_is_not_shown(make_blog, capsys):
    site_dir = make_blog({POST: post_text(title="First", slug="first")})
    rebuilder, state = make_rebuilder(site_dir)
    generation = state.generation
    (site_dir / POST).write_text("")  # as an editor's save looks halfway through

    rebuilder.request([POST])  # the rest of the save arrives while the build runs
    rebuilder.build_once(changed=[POST])

    assert (state.generation, state.errors) == (generation, ())
    (site_dir / POST).write_text(post_text(title="First, saved", slug="first"))
    rebuilder.dirty = False
    rebuilder.build_once(changed=[POST])
    assert state.errors == () and state.generation > generation
    assert "rebuilt in" in capsys.readouterr().out


def test_a_file_saved_during_a_failed_build_makes_another(make_blog, monkeypatch):
    import marginalia.serve as serve

    site_dir = make_blog({POST: post_text(title="First", slug="first")})
    rebuilder, state = make_rebuilder(site_dir)
    generation = state.generation
    (site_dir / POST).write_text("")
    real_build = serve.build_site

    def build_then_save(*args, **kwargs):
        try:
            return real_build(*args, **kwargs)
        finally:  # the save ends after the build read the file, before the watcher tells
            (site_dir / POST).write_text(post_text(title="First, saved", slug="first"))

    monkeypatch.setattr(serve, "build_site", build_then_save)
    rebuilder.build_once(changed=[POST])

    assert (state.generation, state.errors) == (generation, ())
    assert rebuilder.dirty and rebuilder.changed == {POST}


def test_a_failed_build_on_quiet_sources_is_shown(make_blog, capsys):
    site_dir = make_blog({POST: post_text(title="First", slug="first")})
    rebuilder, state = make_rebuilder(site_dir)
    generation = state.generation
    (site_dir / POST).write_text("")
    saved = time.time() - 1  # saved a while before the build
    os.utime(site_dir / POST, (saved, saved))

    rebuilder.build_once(changed=[POST])

    assert state.generation == generation + 1
    assert [error.path for error in state.errors] == [POST]
    assert "no front matter" in capsys.readouterr().err
