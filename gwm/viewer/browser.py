"""A headless Chromium that shows a viewer page and returns screenshots of what it rendered.

Debian's `chromium` renders viser's WebGL through SwiftShader (no GPU). The page stays open while the
caller changes the scene from the server (a slider's value, a toggle, the camera), so each screenshot is
the picture the browser drew after that change. Chromium is driven over the DevTools protocol
(`Page.captureScreenshot`) with the `websockets` client viser already depends on.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
_FLAGS = ["--headless=new", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox",
          "--disable-gpu-sandbox", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
          "--mute-audio", "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
          "--disable-backgrounding-occluded-windows"]
_HIDE_NOTICES = """if (!document.getElementById('gwm-hide-notices')) {
  const style = document.createElement('style');
  style.id = 'gwm-hide-notices';
  style.textContent = '.mantine-Notifications-root { display: none !important; }';
  document.head.appendChild(style);
}"""


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH (Debian: `apt-get install chromium`), or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class HeadlessBrowser:
    """One Chromium tab on url; `screenshot()` -> (H, W, 3) uint8 of the page as rendered now."""

    def __init__(self, url: str, width: int = 800, height: int = 600, timeout_s: float = 30.0):
        binary = find_chromium()
        if binary is None:
            raise FileNotFoundError("no Chromium on PATH; install it with 'apt-get install chromium'")
        self._profile = tempfile.mkdtemp(prefix="gwm-viewer-chromium-")
        self._proc = subprocess.Popen(
            [binary, *_FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self._next_id = 0
        try:
            port = self._devtools_port(timeout_s)
            ws_url = self._page_ws_url(port, timeout_s)
            self._ws = self._loop.run_until_complete(self._connect(ws_url))
            self._run("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
            self._run("Page.navigate", {"url": url})
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, timeout_s: float) -> int:
        marker = Path(self._profile) / "DevToolsActivePort"  # Chromium writes its chosen port here
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Chromium exited with code {self._proc.returncode} before it was ready")
            if marker.is_file():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            time.sleep(0.05)
        raise TimeoutError(f"Chromium did not open its DevTools port within {timeout_s:.0f} s")

    def _page_ws_url(self, port: int, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.05)
        raise TimeoutError("Chromium opened no page")

    async def _connect(self, ws_url: str):
        import websockets

        return await websockets.connect(ws_url, max_size=None)

    async def _call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        msg_id = self._next_id
        await self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        while True:  # skip events until our reply
            reply = json.loads(await self._ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})

    def _run(self, method: str, params: dict | None = None) -> dict:
        return self._loop.run_until_complete(self._call(method, params))

    def goto(self, url: str) -> None:
        self._run("Page.navigate", {"url": url})

    def settled_screenshot(self, timeout_s: float = 15.0, interval_s: float = 0.4) -> np.ndarray:
        """A screenshot once two taken interval_s apart are identical (the scene finished loading and
        sorting), or the last one at timeout_s. Call it a moment after a change (the change must reach
        the page before a still picture means anything)."""
        time.sleep(interval_s)
        last = self.screenshot()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(interval_s)
            now = self.screenshot()
            if np.array_equal(now, last):
                return now
            last = now
        return last

    def screenshot(self) -> np.ndarray:
        """The page as Chromium renders it now: (H, W, 3) uint8."""
        import cv2

        # viser pops a "software WebGL" notice over the canvas on SwiftShader; keep it out of the pictures
        self._run("Runtime.evaluate", {"expression": _HIDE_NOTICES})
        result = self._run("Page.captureScreenshot", {"format": "png"})
        png = np.frombuffer(base64.b64decode(result["data"]), np.uint8)
        return cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._loop.run_until_complete(self._ws.close())
            except Exception:  # the browser may already be gone
                pass
            self._ws = None
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._loop.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "HeadlessBrowser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["HeadlessBrowser", "find_chromium"]
