"""Open a reproduce report in headless Chromium on a laptop screen; print what it saw as JSON.

    python benchmarks/bench_report_html.py results/report.html --screenshot shot.png
    python benchmarks/bench_report_html.py --width 1280 --height 720 results/report.html

Reports: figures present and decoded, page width vs the viewport (sideways scrolling), each
table's width and font size, external references (must be none), and the screenshot path.
Needs Debian's ``chromium`` (``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from amrkit.report.browser import check_in_browser, external_references, find_chromium


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--screenshot", type=Path, default=None)
    args = ap.parse_args()
    if find_chromium() is None:
        print(json.dumps({"error": "chromium is not installed (apt-get install -y chromium)"}))
        return 1
    t0 = time.perf_counter()
    seen = check_in_browser(args.html, args.width, args.height, screenshot=args.screenshot)
    seen["seconds"] = round(time.perf_counter() - t0, 2)
    seen["external_references"] = external_references(args.html.read_text())
    seen["html_bytes"] = args.html.stat().st_size
    seen["ok"] = (
        seen["images_loaded"] == seen["images"] > 0
        and seen["page_width"] <= seen["viewport"]
        and all(t["width"] <= t["visible"] + 1 for t in seen["tables"])
        and not seen["external_references"]
    )
    print(json.dumps(seen, indent=2))
    return 0 if seen["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
