"""Streaming analysis: stages (a small registered protocol) and per-run view models.

See :mod:`beamwatch.analysis.stages` for how to add a stage.
"""

from beamwatch.analysis.grid import GridSpec
from beamwatch.analysis.model import RunModel, pack
from beamwatch.analysis import roi_stage  # noqa: F401  (registers the "rois" stage)
from beamwatch.analysis.stages import Stage, register, registered, unregister

__all__ = ["GridSpec", "RunModel", "Stage", "pack", "register", "registered", "unregister"]
