"""The cyclic garbage collector in a long-running server process.

CPython's collector occasionally runs a full pass over every container object the process holds. A server
worker holds a few hundred thousand of them that live as long as the process (modules, the app and its
routes, ORM mappings, compiled-statement caches), and a full pass over them stalls whichever request is
running for tens to hundreds of milliseconds: it was the largest part of the listings' p99 at 1M
repositories. Objects alive once the worker has started are moved out of the collector's reach
(`gc.freeze`), so that full passes only look at what was created since.
"""

from __future__ import annotations

import gc


def settle(freeze: bool) -> None:
    """Collect what start-up left behind, then freeze the survivors (when `freeze`)."""
    if not freeze:
        return
    gc.collect()
    gc.freeze()
