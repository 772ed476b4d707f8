"""Hatch build hook: build the web client (web/ -> src/beamwatch/server/static) when it is missing.

Runs for wheels and editable installs (``pip install -e .``), so ``make demo``
and ``make test`` set everything up. It needs Node.js + npm; without them the
install fails with a clear message (set ``BEAMWATCH_SKIP_WEB_BUILD=1`` to
install the server without the web client: ``/`` then answers 503 and says how
to build it). The built assets are git-ignored and declared as ``artifacts``
so they ship inside the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebClientBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        web = root / "web"
        index = root / "src" / "beamwatch" / "server" / "static" / "index.html"
        if index.exists() or os.environ.get("BEAMWATCH_SKIP_WEB_BUILD"):
            return
        if not (web / "package.json").exists():
            self.app.display_warning(f"beamwatch: {web}/package.json missing; installing without the web client")
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "beamwatch: building the web client needs Node.js >= 20 and npm, and `npm` is not on PATH. "
                "Install Node.js (https://nodejs.org or your distribution's nodejs + npm packages) and retry, "
                "or set BEAMWATCH_SKIP_WEB_BUILD=1 to install without the web client."
            )
        steps = []
        if not (web / "node_modules").is_dir():
            # `npm install`, not `npm ci`: npm 11 writes lock files without the
            # other platforms' optional packages (rollup/esbuild binaries), which
            # `npm ci` then rejects as out of sync. `install` still honours the lock.
            steps.append([npm, "install", "--no-audit", "--no-fund"])
        steps.append([npm, "run", "build"])
        for cmd in steps:
            self.app.display_info(f"beamwatch: building the web client: {' '.join(cmd[1:])} (in {web})")
            result = subprocess.run(cmd, cwd=web)
            if result.returncode != 0:
                raise RuntimeError(f"beamwatch: `npm {' '.join(cmd[1:])}` failed with exit status "
                                   f"{result.returncode} in {web}; see the output above")
        if not index.exists():
            raise RuntimeError(f"beamwatch: the web build finished but {index} is missing")
