"""Preview the site: build with drafts and future posts, serve it, rebuild on change.

Three threads share one PreviewState. The main thread owns every build (so a
Ctrl-C lands inside build_site and the writer removes its own staging folder);
watchdog's thread only marks the site dirty; the HTTP threads read the built
folder and the current errors, and stream reload events to open tabs (see
preview_server.py).

An edit to a post's words is shown before the full rebuild: its page is rendered
alone (see quick.py) and served from memory until the rebuild replaces it. Each
reload names the files that changed, and a tab reloads only when its own page is
among them, so the edited page does not reload twice.
"""

from __future__ import annotations

import errno
import gc
import os
import socket
import sys
import threading
import time
import traceback
import webbrowser
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .cli import counted
from .errors import BuildError, BuildErrors
from .pipeline import BuildOptions, BuildResult, WarmState, build_site
from .preview_server import PreviewServer, PreviewState
from .quick import LastBuild, remember_build, render_edited_posts
from .search import BUNDLE_DIR, SEARCH_URL, IndexingStopped

# Never output/: a preview holds drafts and scheduled posts that must not be published.
PREVIEW_DIR = ".cache/preview"
WATCHED_DIRS = ("content", "layouts", "theme")
WATCHED_FILES = ("site.toml",)
EDITOR_TEMP_SUFFIXES = (".swp", ".swo", ".swx", "~", "___jb_tmp___", "___jb_old___")
EDITOR_TEMP_NAMES = ("4913",)  # vim's probe file
IGNORED_EVENTS = ("opened", "closed", "closed_no_write")  # our own builds read the sources
DEBOUNCE_SECONDS = 0.08
MAX_DELAY_SECONDS = 1.0  # build even if events never stop arriving
# Rebuilds keep the search index as it is; it is made again once the sources have been
# still this long, since Pagefind indexes the whole site each time.
SEARCH_PAUSE_SECONDS = 3.0
SEARCH_PAGE = SEARCH_URL.strip("/") + "/index.html"  # its open tabs reload on a new index
MTIME_SLACK_NS = 50_000_000
EXIT_OK, EXIT_USAGE = 0, 2


class Rebuilder:
    """Run builds one at a time; events that arrive during a build make one more."""

    def __init__(self, options: BuildOptions, state: PreviewState):
        self.options = options
        self.warm = WarmState()  # kept between builds: parsed posts, compiled layouts
        self.state = state
        self.last: LastBuild | None = None
        self.condition = threading.Condition()
        self.dirty = False
        self.changed: set[str] = set()  # source files changed since the last build
        self.first_event = self.last_event = 0.0
        self.warnings: tuple[str, ...] = ()  # printed in full only when they change
        self.index_stale = False  # the preview's search index lags behind its pages
        self.settled = 0.0  # when the last build ended

    def request(self, rel_paths: Collection[str] = ()) -> None:
        """Note a change to these source files; called from the watcher's thread."""
        with self.condition:
            self.changed.update(rel_paths)
            now = time.monotonic()
            if not self.dirty:
                self.dirty, self.first_event = True, now
            self.last_event = now
            self.condition.notify()

    def run_forever(self) -> None:
        """Wait for changes, let a burst settle, then rebuild; until KeyboardInterrupt."""
        while True:
            with self.condition:
                while not self.dirty and (pause := self.search_pause()) > 0:
                    self.condition.wait(min(pause, 1.0))
                if not self.dirty:
                    changed = None
                else:
                    while (delay := min(self.last_event + DEBOUNCE_SECONDS,
                                        self.first_event + MAX_DELAY_SECONDS)
                           - time.monotonic()) > 0:
                        self.condition.wait(delay)
                    self.dirty = False
                    changed, self.changed = self.changed, set()
            if changed is None:
                self.refresh_search()
            else:
                self.build_once(changed=changed)

    def search_pause(self) -> float:
        """Seconds until the search index is due to be made again (inf: it is not)."""
        if not self.index_stale:
            return float("inf")
        return max(self.last_event, self.settled) + SEARCH_PAUSE_SECONDS - time.monotonic()

    def refresh_search(self) -> None:
        """Bring the preview's search index up to date, unless an edit arrives first."""
        say("indexing the preview for search (an edit stops it)")
        self.warm.stop_indexing = lambda: self.dirty
        try:
            result = build_site(replace(self.options, search="index"), warm=self.warm)
        except IndexingStopped:
            return  # the edit is built first; the index waits for the next pause
        except BuildError as error:
            self.index_stale = False  # tried again after the next edit, not before
            say(f"warning: no search index: {error}", sys.stderr)
            return
        except Exception:  # a bug: the preview itself goes on
            traceback.print_exc()
            self.index_stale = False
            return
        finally:
            self.warm.stop_indexing = None
            self.settled = time.monotonic()
        self.index_stale = result.search.stale
        say(result.search.describe())
        written = result.written
        # Pages other than the index change only when a source was saved as it built.
        touched = {path for path in (*written.added, *written.changed, *written.removed)
                   if not path.startswith(BUNDLE_DIR + "/")}
        if touched or result.search.action == "indexed":
            self.state.publish((), reload=True, changed={SEARCH_PAGE, *touched})
        if touched:
            self.remember(result)

    def build_once(self, first: bool = False, changed: Collection[str] = ()) -> None:
        """Build the preview, print the outcome and tell open tabs; show an edited
        post's page first, when it can be rendered alone."""
        _, previous = self.state.snapshot()
        shown = {} if first or previous else self.show_ahead(changed)
        started_ns = time.time_ns()
        try:
            result = build_site(self.options, warm=self.warm)
            # What the build keeps lives on: later collections need not walk it.
            gc.freeze()
        except BuildError as error:
            self.index_stale = False  # made again once the site builds
            found = error.errors if isinstance(error, BuildErrors) else (error,)
            if not first and self.superseded(found, started_ns):
                return  # it may have read a file half-saved: the next build will tell
            errors = unique_errors(found)
            report_problems(errors)
            self.state.publish(errors, reload=first or bool(shown)
                               or _keys(errors) != _keys(previous))
            return
        except Exception as exc:  # a bug: show its traceback, keep serving the last state
            traceback.print_exc()
            bug = BuildError(f"internal error ({type(exc).__name__}: {exc}); this is a bug "
                             "in Marginalia, and the terminal shows its traceback")
            self.state.publish((bug,), reload=True)
            return
        warnings = _keys(result.warnings)
        if warnings != self.warnings:
            for warning in warnings:
                say(f"warning: {warning}", sys.stderr)
        elif warnings:
            say(f"{len(warnings)} warnings, as before", sys.stderr)
        self.warnings = warnings
        self.index_stale, self.settled = result.search.stale, time.monotonic()
        written = result.written
        touched = {*written.added, *written.changed, *written.removed}
        touched -= {path for path, page in shown.items()
                    if _read_or_none(self.options.output_dir / path) == page}
        if first:
            say(f"built {counted(result.counts['posts'], 'post')} (drafts and future "
                f"included): {counted(result.counts['pages'], 'page')} in "
                f"{result.seconds:.2f} s")
        else:
            fixed = "fixed; " if previous else ""
            say(f"{fixed}rebuilt in {result.seconds:.2f} s: {len(written.added)} files "
                f"added, {len(written.changed)} changed, {len(written.removed)} removed")
        # Tabs showed the error page, whatever their address: every one reloads.
        self.state.publish((), reload=bool(touched or previous),
                           changed=None if previous or first else touched)
        self.remember(result)

    def remember(self, result: BuildResult) -> None:
        """Prepare the next edit's quick render; after the tabs are told, not before."""
        try:
            self.last = remember_build(self.options, result.site, self.warm.templates)
        except Exception:  # a bug here must not stop the preview
            traceback.print_exc()
            self.last = None

    def superseded(self, errors: Sequence[BuildError], started_ns: int) -> bool:
        """Whether a source changed while a failed build ran, so that it may have read
        a file half-saved; if so, make sure another build follows."""
        with self.condition:
            if self.dirty:
                return True
        # The watcher may not have passed the save on yet: ask the files themselves.
        # Their times come from a coarser clock, a few ms behind this one.
        since, now = started_ns - MTIME_SLACK_NS, time.time_ns()
        touched = [error.path for error in errors if error.path
                   and since <= _mtime_ns(self.options.site_dir / error.path) <= now]
        if touched:
            self.request(touched)
        return bool(touched)

    def show_ahead(self, changed: Collection[str]) -> dict[str, bytes]:
        """Render the pages of edited posts alone and serve them until the build is done."""
        if self.last is None or not changed:
            return {}
        started = time.perf_counter()
        try:
            pages = render_edited_posts(self.last, changed)
        except Exception:  # a bug here must not stop the full build
            traceback.print_exc()
            return {}
        if not pages:
            return {}
        self.state.show_ahead(pages)
        say(f"showing the edited page ({(time.perf_counter() - started) * 1000:.0f} ms); "
            "rebuilding the rest")
        return pages


class SourceWatcher(FileSystemEventHandler):
    """Forward changes to the site's sources to the rebuilder, ignoring everything else."""

    def __init__(self, site_dir: Path, on_change: Callable[[list[str]], None]):
        self.site_dir = site_dir
        self.on_change = on_change
        self.observer = Observer()
        self.watches: dict[str, object] = {}

    def start(self) -> None:
        # The root is watched alone so output/ and .cache/ cost no watches and fire nothing.
        self.observer.schedule(self, str(self.site_dir), recursive=False)
        for name in WATCHED_DIRS:
            self.watch_dir(name)
        self.observer.start()

    def watch_dir(self, name: str) -> None:
        path = self.site_dir / name
        if not path.is_dir():
            return
        if name in self.watches:
            try:
                self.observer.unschedule(self.watches.pop(name))
            except (KeyError, OSError):
                pass
        self.watches[name] = self.observer.schedule(self, str(path), recursive=True)

    def stop(self) -> None:
        if self.observer.is_alive():
            self.observer.stop()
            self.observer.join(timeout=5)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in IGNORED_EVENTS:
            return
        paths = [os.fsdecode(event.src_path),
                 os.fsdecode(getattr(event, "dest_path", "") or "")]
        for path in paths:
            rel = relative_parts(self.site_dir, path)
            if event.is_directory and len(rel) == 1 and rel[0] in WATCHED_DIRS and (
                    event.event_type in ("created", "moved")):
                self.watch_dir(rel[0])
        sources = [parts for p in paths if p
                   and is_source_path(parts := relative_parts(self.site_dir, p))]
        if sources:
            # A folder's events come with its files' own: only files are named.
            self.on_change([] if event.is_directory else ["/".join(p) for p in sources])


def serve(options: BuildOptions, host: str = "127.0.0.1", port: int = 8000,
          open_browser: bool = False) -> int:
    """Build a preview, serve it on host:port and rebuild on change until Ctrl-C."""
    site_dir = options.site_dir
    preview_dir = site_dir / PREVIEW_DIR
    state = PreviewState()
    try:
        server = PreviewServer(host, port, preview_dir, state, site_dir)
    except OSError as exc:
        say(describe_bind_error(exc, host, port), sys.stderr)
        return EXIT_USAGE
    url = f"http://{url_host(host)}:{server.server_address[1]}/"
    if options.base_url:
        server.base_path = base_path_of(options.base_url)
    options = replace(options, output_dir=preview_dir, base_url=options.base_url or url,
                      future=True, preview=True, search="keep")
    rebuilder = Rebuilder(options, state)
    watcher = SourceWatcher(site_dir, rebuilder.request)
    serving = None
    try:
        try:
            watcher.start()  # before the first build, so an edit made during it is not lost
        except OSError as exc:
            say(f"warning: cannot watch the site for changes ({exc.strerror or exc}); on "
                "Linux, raise fs.inotify.max_user_watches. Serving without rebuilds.",
                sys.stderr)
        rebuilder.build_once(first=True)
        say(f"serving {url.rstrip('/')}{server.base_path} (press Ctrl-C to stop)")
        serving = threading.Thread(target=server.serve_forever, name="marginalia-http",
                                   daemon=True)
        serving.start()
        if open_browser:
            webbrowser.open(f"{url.rstrip('/')}{server.base_path}")
        rebuilder.run_forever()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as the command line maps it
        pass
    finally:
        state.stop()
        watcher.stop()
        if serving is not None:
            server.shutdown()
        server.server_close()
    say("stopped")
    return EXIT_OK


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def base_path_of(base_url: str) -> str:
    """Return the path part of a base URL as "/" or "/blog/"."""
    return "/" + "".join(f"{part}/" for part in urlsplit(base_url).path.split("/") if part)


def relative_parts(site_dir: Path, path: str) -> tuple[str, ...]:
    try:
        return Path(path).relative_to(site_dir).parts
    except ValueError:
        return ()


def is_source_path(parts: Sequence[str]) -> bool:
    """Tell whether a site-relative path is a source the build reads."""
    if len(parts) == 1 and parts[0] in WATCHED_FILES:
        return True
    if not parts:
        return False
    name = parts[-1]
    return parts[0] in WATCHED_DIRS and not (
        name.endswith(EDITOR_TEMP_SUFFIXES) or name.startswith(".#")
        or name in EDITOR_TEMP_NAMES)


def describe_bind_error(exc: OSError, host: str, port: int) -> str:
    """Explain why the server cannot listen, and what to try instead."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot serve on {where}: the port is in use, perhaps by another "
                f"'build.py serve'; stop it or pick another port, such as --port {port + 1}")
    if exc.errno == errno.EACCES:
        return (f"cannot serve on {where}: permission denied (ports below 1024 need "
                "privileges); use a port such as --port 8000")
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return (f"cannot serve on {where}: '{host}' is not an address of this machine; "
                "use --host 127.0.0.1")
    return f"cannot serve on {where}: {exc.strerror or exc}; try another --host or --port"


def url_host(host: str) -> str:
    """Return the host to print in the URL: a wildcard address becomes localhost."""
    if host in ("", "0.0.0.0", "::"):
        return "localhost"
    return f"[{host}]" if ":" in host else host


def report_problems(errors: Sequence[BuildError]) -> None:
    """Print each problem as 'path:line:col: message', which editors can jump to."""
    for error in errors:
        say(str(error), sys.stderr)
    count = f"{len(errors)} problems" if len(errors) > 1 else "1 problem"
    say(f"{count}; the browser shows the error until you fix it", sys.stderr)


def say(text: str, stream=None) -> None:
    print(text, file=stream or sys.stdout, flush=True)


def unique_errors(errors: Sequence[BuildError]) -> tuple[BuildError, ...]:
    """Drop repeats, such as one layout error met once per post that uses it."""
    first: dict[str, BuildError] = {}
    for error in errors:
        first.setdefault(str(error), error)
    return tuple(first.values())


def _keys(errors: Sequence[BuildError]) -> tuple[str, ...]:
    return tuple(str(e) for e in errors)

