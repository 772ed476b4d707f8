"""Errors raised while resolving and reading detector frames."""

from __future__ import annotations


class FrameError(Exception):
    """A frame could not be served.

    ``status`` follows HTTP semantics so the server can pass it through:
    404 missing file/dataset/frame (after waiting), 403 path outside the
    allowed roots, 422 bad request (unknown field, bad index, bad spec).
    """

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message
