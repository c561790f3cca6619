"""Open ``report.html`` in headless Chromium: does it render, do its figures load, do its
tables fit a laptop screen, does it fetch anything from outside?

Used by tests/report and benchmarks/bench_report_html.py. Chromium is Debian's ``chromium``
package (``apt-get install -y chromium``); :func:`find_chromium` returns None without it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

# Appended to a temporary copy of the page (never to the report itself): measures the page
# after load and writes the result into the DOM, which --dump-dom prints.
_PROBE = """
<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const vw = document.documentElement.clientWidth;
  const tables = [...document.querySelectorAll('table')].map(t => {
    const r = t.getBoundingClientRect();
    const box = t.closest('.tw') || t;
    return {width: Math.round(r.width), visible: Math.round(box.getBoundingClientRect().width),
            font_px: parseFloat(getComputedStyle(t.querySelector('td,th')).fontSize)};
  });
  const out = {
    viewport: vw,
    page_width: document.documentElement.scrollWidth,
    images: imgs.length,
    images_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    image_widths: imgs.map(i => Math.round(i.getBoundingClientRect().width)),
    tables: tables,
    headings: document.querySelectorAll('h1,h2').length,
  };
  const pre = document.createElement('pre');
  pre.id = 'amrkit-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""
_EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def external_references(page: str) -> list[str]:
    """Every place the page would fetch something from the network."""
    return [m.group(0) for m in _EXTERNAL.finditer(page)]


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def check_in_browser(
    html_path: str | Path,
    width: int = 1366,
    height: int = 768,
    screenshot: str | Path | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Load the page at ``width`` x ``height`` (a laptop screen) and measure it; optionally
    save a screenshot of the first screen."""
    html_path = Path(html_path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / html_path.name  # figures are data URIs: the copy is complete
        probe.write_text(html_path.read_text().replace("</body>", _PROBE + "</body>"))
        res = _chromium([f"--window-size={width},{height}", "--dump-dom", probe.as_uri()], timeout)
    found = re.search(r'<pre id="amrkit-probe">(.*?)</pre>', res.stdout, re.S)
    if not found:
        raise RuntimeError(
            f"chromium rendered no probe (exit {res.returncode}): {res.stderr[-500:]}"
        )
    import html as html_lib

    result = json.loads(html_lib.unescape(found.group(1)))
    if screenshot is not None:
        shot = Path(screenshot).resolve()
        _chromium(
            [f"--window-size={width},{height}", f"--screenshot={shot}", html_path.as_uri()], timeout
        )
        result["screenshot"] = str(shot) if shot.is_file() else None
    return result
