"""A real headless browser for the tests that check what a page shows: Debian's Chromium (``.ci/run``
installs it). Skipped where it is missing, a failure where ``SEARCH_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .required import unavailable

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def chromium() -> str:
    """The browser's executable: ``$SEARCH_CHROMIUM``, else the first of ``NAMES`` on the PATH."""
    found = os.environ.get("SEARCH_CHROMIUM") or next(filter(None, map(shutil.which, NAMES)), None)
    if not found:
        unavailable("no Chromium to render the report (apt-get install chromium)")
    return found


def rendered_dom(page: Path, script: str = "") -> str:
    """The page's DOM after its scripts ran (``script`` runs at ``load``, after the page's own)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / page.name
        on_load = f"<script>window.addEventListener('load', function () {{{script}}});</script>\n"
        copy.write_text(page.read_text() + (on_load if script else ""))
        done = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp}/profile",
             "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()],
            capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and "<body" in done.stdout, done.stderr[-2000:]
    return done.stdout
