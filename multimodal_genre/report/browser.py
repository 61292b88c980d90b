"""Open a written report in headless Chromium: a screenshot of the whole page, and what the
rendered page holds (tables, images that decoded) and asked the network for.

The report forbids every request through its content security policy, which would also hide a
stray reference to a file or URL. So the check loads a copy without the policy, with a small script
appended that records the rendered state into the DOM, and reads Chromium's network log: any
request the page makes for something other than the report file itself is reported.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from multimodal_genre.errors import RunError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1280
MAX_HEIGHT = 40000  # pixels of page the screenshot covers at most
TIMEOUT = 180  # seconds for Chromium to load and render the page
_FLAGS = (
    "--headless",
    "--no-sandbox",  # containers and CI run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-breakpad",
)
_PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(image => ({
    alt: image.alt, complete: image.complete, width: image.naturalWidth, height: image.naturalHeight}));
  const tables = [...document.querySelectorAll("table")].map(table => table.rows.length);
  const requested = performance.getEntriesByType("resource").map(entry => entry.name);
  document.body.setAttribute("data-probe", JSON.stringify({
    images, tables, requested, height: document.documentElement.scrollHeight,
    text: document.body.innerText.slice(0, 2000)}));
});
</script>"""
_POLICY_TAG = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n?')


@dataclasses.dataclass(frozen=True)
class BrowserCheck:
    images: list[dict]  # alt text, complete, natural width and height of each <img>
    tables: list[int]  # rows of each <table>
    requests: list[str]  # URLs the page asked for besides its own file
    height: int  # of the rendered page, in CSS pixels
    text: str  # the start of the page's visible text
    screenshot: Path

    @property
    def broken_images(self) -> list[str]:
        return [image["alt"] for image in self.images if not image["complete"] or image["width"] == 0]

    @property
    def problems(self) -> list[str]:
        found = [f"image not rendered: {alt}" for alt in self.broken_images]
        found += [f"request left the file: {url}" for url in self.requests]
        return found + (["no table rendered"] if not self.tables else [])


def find_chromium() -> str | None:
    """$MULTIMODAL_GENRE_CHROMIUM, else the first Chromium or Chrome on PATH."""
    named = os.environ.get("MULTIMODAL_GENRE_CHROMIUM")
    if named:
        return named
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def check_in_browser(page: Path, screenshot: Path) -> BrowserCheck:
    """Render ``page`` in headless Chromium; write a full-page PNG to ``screenshot``."""
    chromium = find_chromium()
    if chromium is None:
        raise RunError(
            "the browser check needs Chromium: install the system's 'chromium' package "
            "or set MULTIMODAL_GENRE_CHROMIUM to a Chromium or Chrome binary"
        )
    page = page.resolve()
    with tempfile.TemporaryDirectory(prefix="multimodal-genre-browser-") as scratch:
        probe_page = Path(scratch) / page.name
        text = _POLICY_TAG.sub("", page.read_text(), count=1)
        probe_page.write_text(text.replace("</body>", _PROBE + "\n</body>", 1))
        net_log = Path(scratch) / "net-log.json"
        dom = _run(
            chromium,
            scratch,
            "--virtual-time-budget=10000",
            f"--log-net-log={net_log}",
            "--dump-dom",
            probe_page.as_uri(),
        )
        found = re.search(r'data-probe="([^"]*)"', dom)
        if found is None:
            raise RunError(f"{page}: Chromium rendered the page but its probe did not run")
        probe = json.loads(html.unescape(found.group(1)))
        requests = sorted(set(probe["requested"]) | _page_requests(net_log))
        requests = [url for url in requests if url != probe_page.as_uri()]
        height = min(int(probe["height"]), MAX_HEIGHT)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        _run(
            chromium,
            scratch,
            f"--screenshot={screenshot.resolve()}",
            f"--window-size={WIDTH},{height}",
            page.as_uri(),
        )
    if not screenshot.is_file():
        raise RunError(f"{page}: Chromium wrote no screenshot")
    return BrowserCheck(probe["images"], probe["tables"], requests, int(probe["height"]), probe["text"], screenshot)


def _run(chromium: str, scratch: str, *arguments: str) -> str:
    profile = tempfile.mkdtemp(prefix="profile-", dir=scratch)
    try:
        done = subprocess.run(
            [chromium, *_FLAGS, f"--user-data-dir={profile}", *arguments],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RunError(f"Chromium did not finish within {TIMEOUT} s") from None
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise RunError(f"Chromium failed (exit status {done.returncode}): {last[0]}")
    return done.stdout


def _page_requests(net_log: Path) -> set[str]:
    """URLs requested on behalf of a page opened from a file, from Chromium's network log (the
    browser's own background requests carry no file:// network isolation key)."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return {
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start and "file://" in event.get("params", {}).get("network_isolation_key", "")
    }
