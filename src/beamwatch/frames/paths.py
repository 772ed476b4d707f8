"""Map document file locations (URIs, root + resource_path) to safe local paths."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from .errors import FrameError


def parse_path_map(spec: str) -> tuple[str, str]:
    """Parse an ``OLD=NEW`` prefix rewrite (``--path-map``)."""
    old, sep, new = spec.partition("=")
    old, new = old.strip(), new.strip()
    if not sep or not old or not new:
        raise ValueError(f"path map {spec!r} must look like OLD=NEW (both non-empty)")
    if not old.startswith("/") or not new.startswith("/"):
        raise ValueError(f"path map {spec!r}: OLD and NEW must be absolute paths")
    return _strip_slash(old), _strip_slash(new)


def _strip_slash(p: str) -> str:
    return p.rstrip("/") or "/"


def _is_under(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


class PathPolicy:
    """Rewrite (``path_map``), normalise, and confine paths to ``roots``.

    ``path_map`` entries are applied before resolving; the longest matching
    OLD prefix wins and only matches whole path components.
    """

    def __init__(
        self,
        roots: Iterable[str | os.PathLike[str]],
        path_map: Iterable[tuple[str, str] | str] = (),
    ) -> None:
        self.roots: list[Path] = [Path(r).resolve() for r in roots]
        pairs = [parse_path_map(m) if isinstance(m, str) else m for m in path_map]
        self.path_map: list[tuple[str, str]] = sorted(
            ((_strip_slash(o), _strip_slash(n)) for o, n in pairs),
            key=lambda p: len(p[0]),
            reverse=True,
        )

    def rewrite(self, path: str) -> str:
        """Apply the first (longest) matching ``OLD=NEW`` prefix rewrite."""
        norm = str(PurePosixPath(path)) if path else path
        for old, new in self.path_map:
            if _is_under(norm, old):
                rest = norm[len(old):].lstrip("/") if old != "/" else norm.lstrip("/")
                return str(PurePosixPath(new) / rest) if rest else new
        return norm

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """Rewrite, resolve symlinks/``..``, and check against the roots."""
        raw = os.fspath(path)
        mapped = self.rewrite(raw)
        if not os.path.isabs(mapped):
            raise FrameError(f"path {raw!r} is not absolute", status=422)
        local = Path(mapped).resolve()
        for root in self.roots:
            if local == root or local.is_relative_to(root):
                return local
        allowed = ", ".join(str(r) for r in self.roots) or "(none configured)"
        raise FrameError(
            f"path {str(local)!r} (from {raw!r}) is outside the allowed roots: {allowed}",
            status=403,
        )

    def from_uri(self, uri: str) -> Path:
        """Resolve a ``file://host/abs/path`` URI (host is ignored)."""
        parsed = urlparse(uri)
        if parsed.scheme not in ("file", ""):
            raise FrameError(f"unsupported URI scheme in {uri!r} (only file://)", status=422)
        return self.resolve(unquote(parsed.path))

    def from_resource(self, root: str, resource_path: str) -> Path:
        """Resolve an event-model Resource's ``root`` + ``resource_path``."""
        return self.resolve(os.path.join(root or "/", resource_path))
