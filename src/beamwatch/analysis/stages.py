"""Analysis stages: the small protocol every per-run computation implements.

A stage is an event-model ``DocumentRouter`` attached to one run's
:class:`~beamwatch.analysis.model.RunModel`. It receives the run's documents
in order (``__call__(name, doc)`` dispatches to ``start``, ``descriptor``,
``event_page``, ``stop``, ...; events always arrive as event pages), keeps
whatever derived state it wants, and describes that state to browsers:

* ``snapshot()``  -> a msgpack-able dict (or None) for a client joining now;
* ``version``      -> an int that grows whenever the state changes;
* ``delta(cursor)`` -> ``(messages, new_cursor)``: what a client at ``cursor``
  (``None`` = nothing yet) needs to reach the current state. Stages coalesce
  here: a slow client asks once for everything it missed, so an append-only
  stage returns one message with all new rows and a "latest wins" stage
  (e.g. a detector frame) returns just the latest state.

Stages are registered, never special-cased: the built-in ones (columns,
grid map, document log) use the same :func:`register` as later ones (ROI
sums, peak finding, background subtraction, XMCD, I/I0 ...)::

    @register("roi_sums", order=50)
    class RoiSums(Stage):
        def event_page(self, doc): ...
        def snapshot(self): ...
        def delta(self, cursor): ...

A stage that needs another's state looks it up with ``run.stage("columns")``
(stages run in ``order``). Messages are dicts with a ``"t"`` (type) key; new
stages may add new message types -- clients ignore types they do not know.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable

import event_model

if TYPE_CHECKING:  # pragma: no cover
    from beamwatch.analysis.model import RunModel

Message = dict[str, Any]


class Stage(event_model.DocumentRouter):
    """Base class: a DocumentRouter bound to a run, with the view protocol."""

    key: str = "stage"

    def __init__(self, run: "RunModel"):
        super().__init__()
        self.run = run
        self.version = 0

    def touch(self) -> None:
        """Call after changing state so connected clients are sent a delta."""
        self.version += 1

    def snapshot(self) -> dict[str, Any] | None:
        return None

    def delta(self, cursor: Any) -> tuple[list[Message], Any]:
        return [], cursor


@dataclasses.dataclass(frozen=True)
class StageSpec:
    key: str
    factory: Callable[["RunModel"], Stage]
    order: int
    applies: Callable[[dict], bool]


_REGISTRY: dict[str, StageSpec] = {}


def register(key: str, *, order: int = 100, applies: Callable[[dict], bool] | None = None):
    """Class decorator (or call with a factory) adding a stage to every new run model.

    ``applies(start_doc)`` may restrict the stage to some runs.
    """

    def deco(factory):
        if hasattr(factory, "key"):
            factory.key = key
        _REGISTRY[key] = StageSpec(key, factory, order, applies or (lambda start: True))
        return factory

    return deco


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def registered() -> list[StageSpec]:
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.key))
