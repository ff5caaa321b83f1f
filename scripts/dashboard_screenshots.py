"""The README's dashboard pictures, taken from a published dashboard in headless Chromium.

    .venv/bin/python scripts/dashboard_screenshots.py [data/dashboard.html] [--out docs]

Writes `dashboard.png` (the top of the page: cards, revenue, reconciliation, collection)
and `dashboard-<chart>.png`, the panel of each chart in PANELS, for the period and website
in the URL's fragment (month, all websites). Uses the tests' small DevTools client
(tests/cdp.py): Debian's Chromium, no browser download, nothing fetched (the page is
self-contained).
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cdp import Chromium  # noqa: E402

WIDTH = 1280
TOP_HEIGHT = 1560
#: The panels pictured on their own (their `data-chart`): issue 17's views in the README.
PANELS = ("subscriptions", "kitchen")


def _box(browser: Chromium, chart: str) -> dict:
    """The page coordinates of the panel (its <section>) that holds `chart`."""
    return browser.eval(
        f"(() => {{ const r = document.querySelector('[data-chart=\"{chart}\"]')"
        ".closest('section').getBoundingClientRect();"
        " return {x: r.left + window.scrollX, y: r.top + window.scrollY,"
        " width: r.width, height: r.height}; })()"
    )


def _capture(browser: Chromium, path: Path, box: dict) -> None:
    clip = {**box, "scale": 1}
    data = browser.send(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": clip},
        timeout=60,
    )["data"]
    path.write_bytes(base64.b64decode(data))
    print(f"{path}: {int(box['width'])} x {int(box['height'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboard", nargs="?", default="data/dashboard.html", type=Path)
    parser.add_argument("--out", default=ROOT / "docs", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with Chromium(width=WIDTH, height=900) as browser:
        browser.open(args.dashboard.resolve().as_uri() + "#period=month&website=all")
        browser.drain(1.0)
        top = {"x": 0, "y": 0, "width": WIDTH, "height": TOP_HEIGHT}
        _capture(browser, args.out / "dashboard.png", top)
        for chart in PANELS:
            _capture(browser, args.out / f"dashboard-{chart}.png", _box(browser, chart))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
