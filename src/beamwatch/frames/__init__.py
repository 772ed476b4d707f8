"""Detector frames: resolve bluesky external references to HDF5 frames, read
them from files still being written (SWMR), and compute ROI sums."""

from .errors import FrameError
from .paths import PathPolicy, parse_path_map
from .reader import SWMRReader, auto_bin, bin_frame, squeeze_frames
from .resolver import FrameIndex, FrameRef
from .rois import ROI, point_sums, roi_sums, validate_rois

__all__ = [
    "FrameError",
    "FrameIndex",
    "FrameRef",
    "PathPolicy",
    "ROI",
    "SWMRReader",
    "auto_bin",
    "bin_frame",
    "parse_path_map",
    "point_sums",
    "roi_sums",
    "squeeze_frames",
    "validate_rois",
]
