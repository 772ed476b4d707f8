"""Sources: where documents come from.

Every source implements :class:`Source` (a name and ``async run(core)``) and
is registered in :data:`REGISTRY` by the name the CLI uses; the server starts
the configured ones and never special-cases any of them. All of them hand
documents to ``core.ingest`` -- the same path the HTTP endpoint uses.
"""

from __future__ import annotations

from typing import Callable, Protocol


class Source(Protocol):
    name: str

    async def run(self, core) -> None:
        """Feed documents to ``core.ingest`` until cancelled."""


# name -> factory(settings) returning the configured sources of that kind
REGISTRY: dict[str, Callable[..., list[Source]]] = {}


def register(name: str):
    def deco(factory):
        REGISTRY[name] = factory
        return factory

    return deco


def configured_sources(settings) -> list[Source]:
    from beamwatch.sources import zmq as _zmq  # noqa: F401  (registers itself)

    out: list[Source] = []
    for factory in REGISTRY.values():
        out.extend(factory(settings))
    return out
