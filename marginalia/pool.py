"""Worker processes for the parse and render stages, one core each.

Workers are forked from the build, so they share what it holds without copying
it, and they die with it: a build ended by any signal, SIGKILL included, leaves
no process behind. Render workers return their pages and what they recorded in
the render cache; the parent writes the pages and merges the records, in order.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from .errors import BuildError
from .incremental import RenderCache
from .model import OutputFile
from .write import Staged

Job = tuple[Callable[..., Any], tuple, dict]
Outcome = list[OutputFile] | list[Staged] | BuildError

# Below this many posts, starting workers costs more than they save.
PARALLEL_POSTS = 200
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_forked_call: Callable[..., Any] | None = None  # what forked workers run, set before they fork


def can_fork_workers(posts: int) -> bool:
    """Whether a build of this many posts should render in worker processes.

    Never from a process with other threads running (the preview server): a fork
    copies the locks those threads may hold.
    """
    import multiprocessing  # imported when first needed: small rebuilds never fork

    return (posts >= PARALLEL_POSTS and worker_count() >= 2
            and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


def run_jobs(jobs: Sequence[Job], cache: RenderCache | None, parallel: bool,
             stage: Callable[[OutputFile], Staged] | None = None) -> Iterator[Outcome]:
    """Yield each job's pages, or its error, in order. Forked workers put the pages
    they make in the staging tree with stage, when given, and send back what was done
    rather than the pages' bytes."""
    if not parallel:
        yield from map(_run, jobs)
        return
    # Keep the workers' garbage collector off the shared site: walking it would touch,
    # and so copy, every page of it in each worker.
    gc.freeze()
    try:
        for outcome, records in map_in_forked_workers(
                partial(_run_in_worker, jobs, cache, stage), range(len(jobs))):
            if cache is not None:
                cache.merge(_with_shared_links(records))
            yield outcome if isinstance(outcome, BuildError) else [
                _with_interned_links(made) for made in outcome]
    finally:
        gc.unfreeze()


def split_among_workers(work: Callable[[int, int], list], total: int) -> list:
    """Run work(start, stop) over consecutive parts of range(total), one part per forked
    worker; return the parts' lists joined. The caller checks can_fork_workers first."""
    workers = worker_count()
    bounds = [total * part // workers for part in range(workers + 1)]
    return [item for part in map_in_forked_workers(work, bounds[:-1], bounds[1:], workers=workers)
            for item in part]


def map_in_forked_workers(function: Callable[..., Any], *iterables: Iterable,
                          workers: int | None = None) -> Iterator[Any]:
    """Yield function over the iterables, in order, computed by forked workers, which
    see everything this process holds: function and what it reads are never pickled."""
    global _forked_call
    _forked_call = function
    try:
        with worker_pool(workers) as pool:
            yield from pool.map(_call_forked, *iterables)
    finally:
        _forked_call = None


def _call_forked(*args: Any) -> Any:
    assert _forked_call is not None, "workers must be forked by map_in_forked_workers"
    return _forked_call(*args)


def worker_pool(workers: int | None = None):
    """A pool of forked worker processes that end when this process ends, however."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers or worker_count(),
                               mp_context=multiprocessing.get_context("fork"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def _die_with_parent(parent: int) -> None:
    # A forked worker holds both ends of the pool's pipes, so a parent killed outright
    # gives it neither EOF nor EPIPE: it would wait forever. Have the kernel end it.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (AttributeError, OSError):  # not Linux: watch the parent instead
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it died before the request was made
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _with_interned_links(made: OutputFile | Staged) -> OutputFile | Staged:
    # Unpickled, every page would hold its own copy of links shared by thousands.
    output = made.output if isinstance(made, Staged) else made
    if not output.links:
        return made
    output = replace(output, links=tuple(map(sys.intern, output.links)))
    return replace(made, output=output) if isinstance(made, Staged) else output


def _with_shared_links(records: dict | None) -> dict | None:
    if records:
        for entry in records["new"].values():
            entry[3] = list(map(sys.intern, entry[3]))
    return records


def worker_count() -> int:
    return min(os.cpu_count() or 1, 8)


def _run(job: Job) -> Outcome:
    make, args, kwargs = job
    try:
        made = make(*args, **kwargs)
    except BuildError as error:
        return error
    return made if isinstance(made, list) else [made]


def _run_in_worker(jobs: Sequence[Job], cache: RenderCache | None,
                   stage: Callable[[OutputFile], Staged] | None,
                   index: int) -> tuple[Outcome, dict | None]:
    if cache is not None:
        cache.start_recording()
    outcome = _run(jobs[index])
    if stage is not None and not isinstance(outcome, BuildError):
        try:
            outcome = [stage(made) for made in outcome]
        except BuildError as error:
            outcome = error
    return outcome, cache.take_records() if cache is not None else None
