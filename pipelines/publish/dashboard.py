"""The static dashboard: one HTML file with its styles, scripts and data inlined.

It opens from disk with no network (file://, e-mail attachment, object storage). The charts
are hand-written SVG (static/dashboard.js): no charting library to vendor, and every chart is
inspectable DOM that the browser test can count. The data is the payload of `data.collect`
as JSON; the page computes the selected window (day, week, month, year ending at as_of) and
website from the daily rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.publish import leftovers
from pipelines.publish.data import collect_from

STATIC = Path(__file__).with_name("static")


def _script_json(payload: dict) -> str:
    """JSON safe inside <script>: no `</` (or `<!--`) can end the element early."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(payload: dict) -> str:
    """The page for `payload`."""
    template = (STATIC / "dashboard.html").read_text(encoding="utf-8")
    css = (STATIC / "dashboard.css").read_text(encoding="utf-8")
    script = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    return (
        template.replace("/*__CSS__*/", css)
        .replace("/*__DATA__*/", _script_json(payload))
        .replace("/*__JS__*/", script)
    )


def write_dashboard(warehouse_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Render the dashboard of the warehouse's marts to `out_path` (atomically); its path."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    leftovers.sweep(out.parent, {out.name})
    html = render(collect_from(str(warehouse_path)))
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(html, encoding="utf-8")
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return out
