"""Run the render jobs of a large build in forked worker processes, one core each.

The workers are forked from the process that assembled the site, so they share
it without copying it; each returns its pages and what it recorded in the render
cache, and the parent writes the pages and merges the records, in job order.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from .errors import BuildError
from .incremental import RenderCache
from .model import OutputFile

Job = tuple[Callable[..., Any], tuple, dict]
Outcome = list[OutputFile] | BuildError

# Below this many posts, starting workers costs more than they save.
PARALLEL_POSTS = 200

_shared: tuple[Sequence[Job], RenderCache | None] | None = None  # what forked workers see


def can_fork_workers(posts: int) -> bool:
    """Whether a build of this many posts should render in worker processes.

    Never from a process with other threads running (the preview server): a fork
    copies the locks those threads may hold.
    """
    import multiprocessing  # imported when first needed: small rebuilds never fork

    return (posts >= PARALLEL_POSTS and _worker_count() >= 2
            and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


def run_jobs(jobs: Sequence[Job], cache: RenderCache | None,
             parallel: bool) -> Iterator[Outcome]:
    """Yield each job's pages, or its error, in order."""
    if not parallel:
        yield from map(_run, jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _shared
    _shared = (jobs, cache)
    # Keep the workers' garbage collector off the shared site: walking it would touch,
    # and so copy, every page of it in each worker.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=_worker_count(), mp_context=context) as pool:
            for outcome, records in pool.map(_run_in_worker, range(len(jobs))):
                if cache is not None:
                    cache.merge(_with_shared_links(records))
                yield outcome if isinstance(outcome, BuildError) else [
                    replace(f, links=_interned(f.links)) for f in outcome]
    finally:
        _shared = None
        gc.unfreeze()


def _interned(links: tuple[str, ...] | None) -> tuple[str, ...] | None:
    # Unpickled, every page would hold its own copy of links shared by thousands.
    return tuple(map(sys.intern, links)) if links else links


def _with_shared_links(records: dict | None) -> dict | None:
    if records:
        for entry in records["new"].values():
            entry[3] = list(map(sys.intern, entry[3]))
    return records


def _worker_count() -> int:
    return min(os.cpu_count() or 1, 8)


def _run(job: Job) -> Outcome:
    make, args, kwargs = job
    try:
        made = make(*args, **kwargs)
    except BuildError as error:
        return error
    return made if isinstance(made, list) else [made]


def _run_in_worker(index: int) -> tuple[Outcome, dict | None]:
    assert _shared is not None, "render workers must be forked by run_jobs"
    jobs, cache = _shared
    if cache is not None:
        cache.start_recording()
    outcome = _run(jobs[index])
    return outcome, cache.take_records() if cache is not None else None
