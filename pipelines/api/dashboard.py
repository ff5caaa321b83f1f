"""The live dashboard: `GET /dashboard` (the page) and `GET /api/v1/dashboard/payload` (its data).

The page is the static dashboard's own HTML, CSS and script (pipelines/publish/static/),
served with no data in it and no token needed; the script asks the user for a token (a
field, kept in sessionStorage, or `#token=` in the URL fragment: never a query string,
which servers log), sends it as `Authorization: Bearer` on every fetch, lists the stored
widgets and fetches the payload below. Without a valid token it shows a message, no data.

The payload is `publish.data.collect` (what the static file embeds) over the published
version the request reads, restricted to the token's websites:

- computed once per published version (and history asked for): `PayloadCache`, bounded,
  emptied when a newer version is read;
- filtered FAIL-CLOSED (`scoped`): every table must carry `website_id` and keeps only the
  rows of the token's websites; a table without it, or any key this module does not know,
  is dropped for a scoped token (an admin of every website gets everything). The names of
  meals and redemption items, which `collect` gives without a website, are given again per
  website (`website_meal_names`, `website_redemption_item_names`) so that a scoped page
  still names them;
- for any window the page needs besides the periods (a date range picked on the page, a
  widget's own `days` or range): the figures that do not add up from daily rows (distinct
  customers, returning customers, loyalty engagement, kitchen hours) are computed here for
  that window, and when the window (and the one before it, for the change figures) reaches
  back further than the payload's daily history, the payload is collected with more history
  (`collect(since=)`), never shown short.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from pipelines.api.deps import Marts, Token
from pipelines.api.loyalty import MAX_TREND_DAYS
from pipelines.publish import data

router = APIRouter(tags=["dashboard"])

PAYLOAD_PATH = "/api/v1/dashboard/payload"
STATIC = Path(data.__file__).with_name("static")
#: Keys of the payload that carry no website's data: kept as they are.
METADATA = ("generated_at", "periods", "since", "marts", "sources")
#: Base payloads kept (one per version and history; a new version empties the cache).
MAX_PAYLOADS = 4
#: Figures of extra windows kept (per version).
MAX_WINDOWS = 256
#: JSON bodies kept (by version, scope and windows asked).
MAX_BODIES = 64
#: Extra windows one request may ask for (the page's range and the widgets' own windows).
MAX_WINDOWS_PER_REQUEST = 24
#: A window asked for: `<N>d` (the last N days up to each website's as_of) or
#: `<from>..<to>` (ISO dates).
WINDOW = re.compile(r"^(?:(\d{1,4})d|(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2}))$")

NAME_QUERIES = {
    "fct_item_sales": (
        "website_meal_names",
        "select website_id, meal_id, any_value(meal_name order by business_date desc) "
        "as meal_name from marts.fct_item_sales group by website_id, meal_id "
        "order by website_id, meal_id",
    ),
    "fct_redemption_items": (
        "website_redemption_item_names",
        "select website_id, redemption_item_id, "
        "any_value(item_name order by business_date desc) as item_name, "
        "any_value(category order by business_date desc) as category "
        "from marts.fct_redemption_items group by website_id, redemption_item_id "
        "order by website_id, redemption_item_id",
    ),
}


# --- the page ---------------------------------------------------------------------------------


#: The page's policy: the static one, plus fetches to this server only.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@lru_cache(maxsize=1)
def live_page() -> str:
    """The static dashboard's template with its styles and script, no data, the live
    controls, and a policy that lets the script fetch this server."""
    template = (STATIC / "dashboard.html").read_text(encoding="utf-8")
    replacements = {
        "<!--__LIVE__-->": (STATIC / "live.html").read_text(encoding="utf-8"),
        "/*__CSS__*/": (STATIC / "dashboard.css").read_text(encoding="utf-8"),
        "/*__DATA__*/": "null",
        "/*__JS__*/": (STATIC / "dashboard.js").read_text(encoding="utf-8"),
        "default-src 'none';": "default-src 'none'; connect-src 'self';",
    }
    for mark, text in replacements.items():
        if template.count(mark) != 1:
            raise RuntimeError(f"dashboard.html: {mark!r} is expected exactly once")
        template = template.replace(mark, text)
    return template


@router.get("/dashboard", response_class=HTMLResponse, summary="The live dashboard (HTML)")
def dashboard_page() -> HTMLResponse:
    """The page only: no data, no token needed (the page asks for one and fetches the
    payload and the widgets with it)."""
    return HTMLResponse(
        live_page(),
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- scope --------------------------------------------------------------------------------------


def scoped(payload: dict[str, Any], websites: tuple[int, ...]) -> dict[str, Any]:
    """The payload for a token of these websites (empty: every website, as it is).

    Fail-closed: besides METADATA, only the `websites` list (filtered), `windows` (keyed
    `<website id>|<window>`, filtered) and tables (`{"cols", "rows"}`) with a `website_id`
    column (their rows filtered) pass; a table without `website_id` and any other key are
    dropped."""
    if not websites:
        return payload
    seen = {int(w) for w in websites}
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key in METADATA:
            out[key] = value
        elif key == "websites":
            out[key] = [w for w in value if w.get("id") in seen]
        elif key == "windows":
            out[key] = {k: v for k, v in value.items() if _window_site(k) in seen}
        elif isinstance(value, dict) and set(value) == {"cols", "rows"}:
            if "website_id" not in value["cols"]:
                continue
            at = value["cols"].index("website_id")
            out[key] = {"cols": value["cols"], "rows": [r for r in value["rows"] if r[at] in seen]}
    return out


def _window_site(key: str) -> int | None:
    head = key.split("|", 1)[0]
    return int(head) if head.isdigit() else None


# --- the cache ----------------------------------------------------------------------------------


class PayloadCache:
    """What one published version's payload costs to compute, computed once: base payloads
    by history (`since`), extra windows' figures by window, and the JSON bodies answered
    (by scope and windows). Bounded (least recently used out), for at most two versions at
    once (the one served and the one warming); `retain` drops the others (when requests
    switch to a new version)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, Any] = OrderedDict()
        self._computing: dict[tuple, threading.Lock] = {}
        self.computed = 0  # payloads and windows computed (the tests count them)
        self.rendered = 0  # bodies written

    def get(self, version: str, key: tuple, compute: Callable[[], Any]) -> Any:
        entry = (version, *key)
        with self._lock:
            if entry in self._entries:
                self._entries.move_to_end(entry)
                return self._entries[entry]
            once = self._computing.setdefault(entry, threading.Lock())
        with once:  # the same entry asked for twice at once: computed once
            with self._lock:
                if entry in self._entries:
                    return self._entries[entry]
            value = compute()
            with self._lock:
                if key[0] == "body":
                    self.rendered += 1
                else:
                    self.computed += 1
                self._computing.pop(entry, None)
                self._entries[entry] = value
                self._trim()
        return value

    def _trim(self) -> None:
        newest = list(dict.fromkeys(k[0] for k in reversed(self._entries)))
        for k in [k for k in self._entries if k[0] not in newest[:2]]:
            del self._entries[k]
        for kind, most in (("payload", MAX_PAYLOADS), ("window", MAX_WINDOWS),
                           ("body", MAX_BODIES)):
            keys = [k for k in self._entries if k[1] == kind]
            for k in keys[: max(len(keys) - most, 0)]:
                del self._entries[k]

    def retain(self, version: str) -> None:
        """Drop what is kept for any other version."""
        with self._lock:
            for k in [k for k in self._entries if k[0] != version]:
                del self._entries[k]

    def keys(self, version: str, kind: str) -> list[tuple]:
        """The keys kept for `version` of one kind ("payload", "window", "body"), the most
        recently used first."""
        with self._lock:
            return [k[1:] for k in reversed(self._entries) if k[0] == version and k[1] == kind]

    def versions(self) -> set[str]:
        with self._lock:
            return {k[0] for k in self._entries}


_CACHES_LOCK = threading.Lock()


def cache_of(app: FastAPI) -> PayloadCache:
    """The app's payload cache (one per application)."""
    with _CACHES_LOCK:
        if not hasattr(app.state, "dashboard_cache"):
            app.state.dashboard_cache = PayloadCache()
        return app.state.dashboard_cache


# --- the payload --------------------------------------------------------------------------------


def _base(con, since: dt.date | None) -> dict[str, Any]:
    payload = data.collect(con, since=since)
    marts = set(payload["marts"])
    for mart, (key, sql) in NAME_QUERIES.items():
        if mart in marts:
            payload[key] = data._table(con, sql)
    return payload


def _parse_window(text: str) -> data.Window:
    match = WINDOW.match(text)
    if not match:
        raise HTTPException(422, f"window {text!r}: `<N>d` or `<from>..<to>` (ISO dates)")
    if match.group(1):
        days = int(match.group(1))
        if not 1 <= days <= MAX_TREND_DAYS:
            raise HTTPException(422, f"window {text!r}: 1 to {MAX_TREND_DAYS} days")
        return None, days
    try:
        start, end = (dt.date.fromisoformat(match.group(k)) for k in (2, 3))
    except ValueError:
        raise HTTPException(422, f"window {text!r}: not a date") from None
    if start > end:
        raise HTTPException(422, f"window {text!r}: from is after to")
    if (end - start).days >= MAX_TREND_DAYS:
        raise HTTPException(422, f"window {text!r}: at most {MAX_TREND_DAYS} days")
    return end, (end - start).days + 1


def _history_needed(windows: dict[str, data.Window], websites: list[dict]) -> dt.date | None:
    """The first day the windows (and the ones before them) need, rounded down to January
    1st (fewer distinct histories to cache); None when the default history covers them."""
    if not windows or not websites:
        return None
    earliest_as_of = min(dt.date.fromisoformat(w["as_of"]) for w in websites)
    default = earliest_as_of - dt.timedelta(days=data.HISTORY_DAYS - 1)
    needed = min(
        (end or earliest_as_of) - dt.timedelta(days=2 * days - 1) for end, days in windows.values()
    )
    return None if needed >= default else dt.date(needed.year, 1, 1)


def _check_range(start: dt.date, end: dt.date, websites: list[dict]) -> None:
    """A range picked on the page must lie within the data of the token's websites."""
    first = min(w["first_date"] for w in websites)
    last = max(w["as_of"] for w in websites)
    if start.isoformat() < first or end.isoformat() > last:
        raise HTTPException(
            400, f"the data runs from {first} to {last}: pick a range within it"
        )


@router.get(
    PAYLOAD_PATH,
    summary="The dashboard's data (the static file's payload), for the token's websites",
    description=(
        "`publish.data.collect` over the current published version, restricted to the token's "
        "websites (tables without a website are left out for a scoped token). "
        "`date_from`/`date_to` (together): a range picked on the page, within the data; "
        "`window` (repeatable): `<N>d` or `<from>..<to>`, a widget's own window. For each, "
        "`windows` gets `<website>|<window>` figures (distinct customers, returning, "
        "engagement) and `kitchen_hours` rows; the daily history reaches back as far as "
        "the windows and the ones before them need. Computed once per published version."
    ),
    responses={200: {"content": {"application/json": {}}}},
)
def dashboard_payload(
    request: Request,
    token: Token,
    marts: Marts,
    date_from: Annotated[dt.date | None, Query(description="first day of a range")] = None,
    date_to: Annotated[dt.date | None, Query(description="last day of the range")] = None,
    window: Annotated[list[str] | None, Query(description="`<N>d` or `<from>..<to>`")] = None,
) -> Response:
    if (date_from is None) != (date_to is None):
        raise HTTPException(422, "date_from and date_to go together")
    texts = list(dict.fromkeys(window or []))
    if date_from is not None:
        if date_from > date_to:
            raise HTTPException(422, "date_from is after date_to")
        texts.insert(0, f"{date_from.isoformat()}..{date_to.isoformat()}")
    if len(texts) > MAX_WINDOWS_PER_REQUEST:
        raise HTTPException(422, f"at most {MAX_WINDOWS_PER_REQUEST} windows")
    for text in texts:
        _parse_window(text)
    body = answer(cache_of(request.app), marts, tuple(token.websites), tuple(texts),
                  (date_from, date_to) if date_from is not None else None)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


def answer(cache: PayloadCache, marts, websites: tuple[int, ...], texts: tuple[str, ...],
           picked: tuple[dt.date, dt.date] | None) -> bytes:
    """The payload's JSON for a token of `websites` (empty: every website) with the
    windows `texts` (validated) and the range picked on the page, if any: written once per
    version and question (`PayloadCache`, kind "body")."""
    return cache.get(
        marts.version, ("body", websites, texts, picked),
        lambda: _render(cache, marts, websites, texts, picked),
    )


def _render(cache: PayloadCache, marts, websites: tuple[int, ...], texts: tuple[str, ...],
            picked: tuple[dt.date, dt.date] | None) -> bytes:
    windows = {text: _parse_window(text) for text in texts}
    version = marts.version
    try:
        base = cache.get(version, ("payload", None), lambda: _base(marts.con, None))
    except LookupError as exc:  # marts missing or empty: nothing to show yet
        raise HTTPException(503, str(exc)) from None
    mine = [w for w in base["websites"] if not websites or w["id"] in websites]
    if not mine:
        raise HTTPException(404, "no published website is within this token's scope")
    if picked is not None:
        _check_range(*picked, mine)
    since = _history_needed(windows, base["websites"])
    if since is not None:
        base = cache.get(version, ("payload", since), lambda: _base(marts.con, since))

    payload = dict(base)
    if windows:
        figures = dict(base.get("windows", {}))
        hours = dict(base["kitchen_hours"]) if "kitchen_hours" in base else None
        if hours is not None:
            hours["rows"] = list(hours["rows"])
        marts_built = set(base["marts"])
        for text, spec in windows.items():
            extra = cache.get(
                version, ("window", text),
                lambda spec=spec, text=text: _window(marts.con, base, marts_built, text, spec),
            )
            figures.update(extra["windows"])
            if hours is not None:
                hours["rows"] += extra["kitchen_hours"]
        if "windows" in base:
            payload["windows"] = figures
        if hours is not None:
            payload["kitchen_hours"] = hours
    return json.dumps(
        scoped(payload, websites), separators=(",", ":"), allow_nan=False
    ).encode()


def warmer(app: FastAPI) -> Callable[[str, Any], None]:
    """The catalog's warmer of the dashboard (`Catalog.add_warmer`): the new version gets the
    payloads and the answers the previous one was asked for, before any request reads it."""

    def warm(previous: str | None, marts) -> None:
        cache = cache_of(app)
        if previous is None:  # the server's start: the default payload, every website's
            payloads, bodies = [("payload", None)], [("body", (), (), None)]
        else:
            payloads, bodies = cache.keys(previous, "payload"), cache.keys(previous, "body")
        for _, since in payloads:
            cache.get(marts.version, ("payload", since),
                      lambda since=since: _base(marts.con, since))
        for _, websites, texts, picked in bodies:
            try:
                answer(cache, marts, websites, texts, picked)
            except HTTPException:  # not answerable on the new version: asked again later
                continue

    return warm


def _window(con, base: dict, marts: set[str], key: str, spec: data.Window) -> dict:
    websites = base["websites"]
    out: dict[str, Any] = {"windows": {}, "kitchen_hours": []}
    if "fct_customer_order_days" in marts:
        out["windows"] = data.window_figures(con, websites, {key: spec})
    if data.has_kitchen_hours(con, marts):
        out["kitchen_hours"] = data.kitchen_hours(con, websites, {key: spec})["rows"]
    return out
