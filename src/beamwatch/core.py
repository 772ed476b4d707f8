"""The running service: archive, hub, run registry and ingest, wired once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from typing import Any, Callable

from beamwatch.archive import Archive
from beamwatch.archive.store import sqlite_url
from beamwatch.config import Settings
from beamwatch.hub import Hub, InProcessHub
from beamwatch.ingest import Ingestor
from beamwatch.runs import RunRegistry

log = logging.getLogger(__name__)


class Core:
    def __init__(self, settings: Settings, hub: Hub | None = None):
        self.settings = settings
        self.archive = Archive(settings.archive_url or sqlite_url(settings.data_dir))
        self.hub = hub or InProcessHub()
        self.registry = RunRegistry(self.archive)
        self.ingestor = Ingestor(self.archive, self.hub, self.registry)
        self._readers = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="beamwatch-read")
        self.tasks: list[asyncio.Task] = []
        # in-process notifications between routes and stages, e.g. "rois" -> f(field, rois)
        self.listeners: dict[str, list[Callable[..., None]]] = {}

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking archive read off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, functools.partial(fn, *args, **kwargs))

    async def ingest(self, items, source: str = "api"):
        return await self.ingestor.ingest(items, source)

    def spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        task.add_done_callback(_log_crash)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task) -> None:
        if task in self.tasks:
            self.tasks.remove(task)

    async def aclose(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        self.ingestor.close()
        self._readers.shutdown(wait=False)
        self.archive.close()


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s crashed", task.get_name(), exc_info=task.exception())
