"""Detector frames of archived and running runs.

Keeps one :class:`~beamwatch.frames.FrameIndex` per run, brought up to date
from the archive (only the documents added since the last look) whenever a
frame is asked for, and one shared SWMR reader. Paths are confined to the
allowed roots: ``--data-root`` directories, the data dir (which holds the
demo's files), after ``--path-map`` rewriting.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from beamwatch import documents as docs
from beamwatch.frames import FrameIndex, FrameRef, PathPolicy, SWMRReader

_NAMES = ("descriptor", "event", "event_page", "resource", "datum", "datum_page", "stream_resource", "stream_datum")
_MAX_RUNS = 16


class FrameStore:
    def __init__(self, archive, settings):
        self.archive = archive
        roots = [settings.data_dir, *settings.data_roots]
        self.policy = PathPolicy(roots, settings.path_map)
        self.reader = SWMRReader()
        self._runs: collections.OrderedDict[str, tuple[FrameIndex, int]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def index(self, run_uid: str) -> FrameIndex:
        """The run's frame index, including every document archived so far."""
        with self._lock:
            index, last = self._runs.pop(run_uid, (None, 0))
            if index is None:
                index = FrameIndex(self.policy)
            for doc_id, name, blob in self.archive.iter_documents(run_uid, after=last, names=_NAMES):
                index.add(name, docs.loads(blob))
                last = doc_id
            self._runs[run_uid] = (index, last)
            while len(self._runs) > _MAX_RUNS:
                self._runs.popitem(last=False)
            return index

    def locate(self, run_uid: str, stream: str, field: str, seq_num: int) -> FrameRef:
        return self.index(run_uid).locate(field, seq_num, stream)

    def read(self, run_uid: str, stream: str, field: str, seq_num: int, wait: float = 2.0) -> np.ndarray:
        """The frames of one event: ``(n_frames, ny, nx)``."""
        return self.reader.read(self.locate(run_uid, stream, field, seq_num), wait=wait)

    def close(self) -> None:
        self.reader.close()
