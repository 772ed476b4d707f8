"""Live view models for the dashboard: built on demand, kept live, bounded.

:class:`LiveService` owns

* the :class:`~beamwatch.analysis.model.RunModel` of every run a browser
  (or the maps API) has asked for, each fed by its own
  :func:`beamwatch.follow.follow` task (catch-up from the archive, then live;
  the task ends at the run's stop document). Models nobody watches are
  evicted least-recently-used beyond ``max_models`` (they are rebuilt from
  the archive on demand), so memory stays bounded.
* the :class:`RunsBoard`: which runs changed (started, got events, stopped),
  for the runs list's live updates.

Nothing here ever awaits a browser: feeding a model only bumps versions and
wakes the per-client sender tasks, each of which sends at most one coalesced
batch per tick.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from beamwatch.analysis.model import RunModel
from beamwatch.follow import follow

log = logging.getLogger(__name__)


class Broadcast:
    """A version counter that wakes every waiter when it changes."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait_past(self, version: int) -> int:
        while self.version <= version:
            await self._event.wait()
        return self.version


class Handle:
    def __init__(self, model: RunModel, target_id: int):
        self.model = model
        self.target_id = target_id  # the run's last archived id when opened
        self.ready = asyncio.Event()
        self.changed = Broadcast()
        self.clients = 0
        self.task: asyncio.Task | None = None
        self.error: BaseException | None = None
        model.add_listener(self._on_feed)

    def _on_feed(self) -> None:
        if self.model.last_id >= self.target_id:
            self.ready.set()
        self.changed.bump()


class RunsBoard:
    """Which runs changed, and when (board versions), for the runs list."""

    KEEP = 2000

    def __init__(self) -> None:
        self.changed = Broadcast()
        self.runs: collections.OrderedDict[str, int] = collections.OrderedDict()
        self.started: dict[str, int] = {}

    def note(self, items) -> None:
        touched = False
        for a in items:
            if a.name in ("start", "stop", "event", "event_page", "descriptor"):
                v = self.changed.version + 1
                self.runs[a.run_uid] = v
                self.runs.move_to_end(a.run_uid)
                touched = True
        while len(self.runs) > self.KEEP:
            self.runs.popitem(last=False)
        if touched:
            self.changed.bump()

    def since(self, version: int) -> list[str] | None:
        """Run uids changed after ``version``; None if that is too old to say."""
        if self.runs and version < next(iter(self.runs.values())) - 1 and len(self.runs) >= self.KEEP:
            return None
        return [uid for uid, v in self.runs.items() if v > version]


class LiveService:
    def __init__(self, core, max_models: int = 12):
        self.core = core
        self.max_models = max_models
        self.handles: collections.OrderedDict[str, Handle] = collections.OrderedDict()
        self.board = RunsBoard()
        self._board_task: asyncio.Task | None = None
        # f(uid) when a run's model is built (e.g. to start computing its ROI sums)
        self.on_new_model: list = []

    # ------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        after = await self.core.read(self.core.archive.max_id)
        self._board_task = self.core.spawn(self._follow_all(after), name="live-runs-board")

    async def _follow_all(self, after: int) -> None:
        async for items in follow(self.core, None, after):
            self.board.note(items)

    # ---------------------------------------------------------------- models
    async def open(self, uid: str, wait: bool = True) -> Handle:
        """The live handle of run ``uid`` (most recently used); built if needed."""
        h = self.handles.get(uid)
        if h is None:
            target = (await self.core.read(self.core.archive.last_id, uid)) or 0
            h = self.handles.get(uid)  # another request may have built it meanwhile
            if h is None:
                h = Handle(RunModel(uid), target)
                if target == 0:
                    h.ready.set()
                self.handles[uid] = h
                h.task = self.core.spawn(self._feed(h), name=f"live-model-{uid[:8]}")
                if self.on_new_model:
                    self.core.spawn(self._announce(h), name=f"live-model-ready-{uid[:8]}")
        self.handles.move_to_end(uid)
        self._evict()
        if wait:
            await h.ready.wait()
            if h.error is not None:
                raise RuntimeError(f"could not build the view of run {uid}: {h.error}")
        return h

    async def _announce(self, h: Handle) -> None:
        await h.ready.wait()  # caught up: its stages exist and can take pushed data
        for hook in list(self.on_new_model):
            hook(h.model.uid)

    async def _feed(self, h: Handle) -> None:
        try:
            async for items in follow(self.core, [h.model.uid], 0):
                h.model.feed(items)
                if h.model.stop is not None:
                    break  # nothing is accepted for a run after its stop
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surface to waiters rather than hang them
            log.exception("view model of run %s failed", h.model.uid)
            h.error = exc
            h.ready.set()
            h.changed.bump()

    def _evict(self) -> None:
        excess = len(self.handles) - self.max_models
        if excess <= 0:
            return
        for uid in list(self.handles):
            if excess <= 0:
                break
            h = self.handles[uid]
            if h.clients == 0:
                del self.handles[uid]
                if h.task is not None:
                    h.task.cancel()
                excess -= 1

    def push(self, uid: str, stage_key: str, method: str, *args) -> None:
        """Hand data computed outside the document stream to a stage of a built model.

        ``model.stage(stage_key).<method>(*args)``, then wake that model's clients;
        nothing happens for a run nobody is watching (its model is rebuilt on demand).
        """
        h = self.handles.get(uid)
        stage = h.model.stage(stage_key) if h is not None else None
        if stage is None:
            return
        getattr(stage, method)(*args)
        h.changed.bump()

    def stats(self) -> dict:
        return {"models": len(self.handles), "clients": sum(h.clients for h in self.handles.values()),
                "board_version": self.board.changed.version}


async def startup_hook(app, core) -> None:
    service = LiveService(core)
    app.state.live = service
    await service.start()
