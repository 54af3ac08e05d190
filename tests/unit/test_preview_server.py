"""The preview's record of what each rebuild changed, which tabs reload by."""

from __future__ import annotations

from marginalia.preview_server import RELOAD_HISTORY, PreviewState


def test_changed_since_joins_the_files_of_later_generations():
    state = PreviewState()
    state.publish((), reload=True)  # the first build: every file
    state.show_ahead({"a/index.html": b"<p>a</p>"})
    state.publish((), reload=True, changed={"index.html"})
    state.publish((), reload=False, changed={"never.html"})  # no reload: no generation

    assert state.generation == 3
    assert state.changed_since(0) is None
    assert state.changed_since(1) == {"a/index.html", "index.html"}
    assert state.changed_since(2) == {"index.html"}
    assert state.changed_since(3) == frozenset()


def test_pages_shown_ahead_last_until_the_next_publish():
    state = PreviewState()
    state.show_ahead({"a/index.html": b"<p>new</p>"})
    assert state.page_ahead("a/index.html") == b"<p>new</p>"
    assert state.page_ahead("b/index.html") is None
    state.publish((), reload=True, changed=set())
    assert state.page_ahead("a/index.html") is None


def test_a_tab_older_than_the_history_reloads_on_anything():
    state = PreviewState()
    for number in range(RELOAD_HISTORY + 2):
        state.publish((), reload=True, changed={f"{number}.html"})
    assert state.changed_since(0) is None
    assert state.changed_since(state.generation - 1) == {f"{RELOAD_HISTORY + 1}.html"}
