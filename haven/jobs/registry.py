"""Every kind of background job Haven runs, its handler, and the lanes (thread groups) they run in."""

from __future__ import annotations

from haven.hub import Hub
from haven.jobs.worker import Handler, Worker
from haven.metadata import tasks as metadata_tasks
from haven.scanning import tasks as scan_tasks
from haven.viewer import tasks as viewer_tasks
from haven.webhooks import tasks as webhook_tasks

# Kinds that may run for minutes to hours: each gets threads of its own so the quick kinds never wait on them.
SLOW_KINDS = (viewer_tasks.KIND,)


def handlers(hub: Hub) -> dict[str, Handler]:
    return {
        metadata_tasks.KIND: metadata_tasks.handler(hub),
        scan_tasks.KIND: scan_tasks.handler(hub),
        webhook_tasks.KIND: webhook_tasks.handler(hub),
        viewer_tasks.KIND: viewer_tasks.handler(hub),
    }


def lanes(kinds: list[str]) -> list[list[str]]:
    """One lane per slow kind, one for all the others."""
    slow = [[kind] for kind in SLOW_KINDS if kind in kinds]
    return [*slow, [kind for kind in kinds if kind not in SLOW_KINDS]]


def parse_kinds(spec: str | None) -> list[str]:
    """`a,b` -> those kinds (ValueError naming the unknown ones); None or empty -> every kind."""
    known = [metadata_tasks.KIND, scan_tasks.KIND, webhook_tasks.KIND, viewer_tasks.KIND]
    if not spec:
        return known
    wanted = [k.strip() for k in spec.split(",") if k.strip()]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"unknown job kinds {', '.join(unknown)}; known: {', '.join(known)}")
    return wanted


def build_worker(hub: Hub, threads: int, kinds: list[str] | None = None) -> Worker:
    """A worker for `kinds` (default all), `threads` threads per lane; 0 threads runs nothing."""
    every = handlers(hub)
    chosen = kinds or list(every)
    return Worker(hub.db, {k: every[k] for k in chosen}, threads=threads, lanes=lanes(chosen))
