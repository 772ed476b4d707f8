"""Follow the document stream: catch up from the archive, then go live.

One mechanism for every consumer (websocket clients, analysis stages): it
subscribes to the hub first, reads what the archive has after ``after_id``,
then yields live documents, skipping ids already delivered. When the
subscriber's bounded queue overflows it resynchronises from the archive the
same way, so a slow consumer gets everything exactly once and never makes
the hub wait.
"""

from __future__ import annotations

from typing import AsyncIterator, Callable, Iterable

from beamwatch.hub import Accepted, Overflow


async def follow(core, runs: Iterable[str] | None = None, after_id: int = 0,
                 max_docs: int = 50_000, page: int = 2_000,
                 on_resync: Callable[[int], None] | None = None) -> AsyncIterator[list[Accepted]]:
    """Yield batches of accepted documents (of ``runs`` if given) in id order.

    ``runs=None`` follows every run; it starts from ``after_id``.
    """
    run_set = frozenset(runs) if runs is not None else None
    sub = core.hub.subscribe(max_docs=max_docs, runs=run_set)
    last = after_id
    try:
        while True:
            # catch up from the archive
            while True:
                batch = await core.read(core.archive.documents_of, run_set, last, page)
                if not batch:
                    break
                items = [Accepted(i, r, n, b) for i, r, n, b in batch]
                last = items[-1].id
                yield items
                if len(batch) < page:
                    break
            # live
            try:
                while True:
                    items = [a for a in await sub.get() if a.id > last]
                    if items:
                        last = items[-1].id
                        yield items
            except Overflow:
                if on_resync is not None:
                    on_resync(last)
                continue
    finally:
        sub.close()
