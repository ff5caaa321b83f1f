"""The demo's last day is the latest website's yesterday, the day the marts' default `as_of`
describes (pipelines/as_of.py: yesterday in each website's zone), whatever the UTC hour.

Between 21:00 and 24:00 UTC Kampala (UTC+3) is already on UTC's tomorrow, so its yesterday
is UTC's today: a demo that ended on UTC's yesterday left that as_of day without orders.
The clock is frozen (`seeds.generate.utc_now`)."""

from __future__ import annotations

import datetime as dt
import importlib
import sqlite3
from zoneinfo import ZoneInfo

import pytest

import seeds
from seeds import catalog

#: The module (the package's `seeds.generate` is its function of the same name).
gen = importlib.import_module("seeds.generate")

LATE_EVENING = dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC)  # Kampala 01:30 on the 11th
MORNING = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)  # every website on the 10th


def _default_as_of(now: dt.datetime) -> dict[int, dt.date]:
    """The default as_of of each website at `now`: yesterday in its zone."""
    return {
        site.id: now.astimezone(ZoneInfo(site.timezone)).date() - dt.timedelta(days=1)
        for site in catalog.WEBSITES
    }


@pytest.mark.parametrize(
    ("now", "last_day"),
    [
        (LATE_EVENING, dt.date(2026, 3, 10)),  # Kampala's yesterday is UTC's today
        (MORNING, dt.date(2026, 3, 9)),  # everyone's yesterday is UTC's yesterday
        (dt.datetime(2026, 3, 10, 20, 59, tzinfo=dt.UTC), dt.date(2026, 3, 9)),
        (dt.datetime(2026, 3, 10, 21, 0, tzinfo=dt.UTC), dt.date(2026, 3, 10)),
    ],
)
def test_the_last_day_is_the_latest_website_s_yesterday(now, last_day):
    assert gen.latest_yesterday(now) == last_day == max(_default_as_of(now).values())
    assert gen.default_start(30, now) == last_day - dt.timedelta(days=29)
    assert gen.default_start(1, now) == last_day


def test_a_default_generation_at_22_30_utc_reaches_kampala_s_as_of(tmp_path, monkeypatch):
    """The whole generator with no --start at a frozen 22:30 UTC: its last day is Kampala's
    default as_of (UTC's today), Kampala has orders on it, and nothing is dated after the
    real 'now' (the snapshot is taken at 21:00 UTC of the last day)."""
    monkeypatch.setattr(gen, "utc_now", lambda: LATE_EVENING)
    source = tmp_path / "source.db"
    summary = seeds.generate(f"sqlite:///{source}", customers=300, days=3, seed=3, progress=False)
    as_of = _default_as_of(LATE_EVENING)
    assert as_of == {1: dt.date(2026, 3, 10), 2: dt.date(2026, 3, 9)}  # Kampala, Lagos
    assert summary.through == dt.date(2026, 3, 10)

    with sqlite3.connect(source) as con:
        zones = dict(con.execute("select id, timezone from accounts_website").fetchall())
        created = con.execute("select website_id, created_at from orders_order").fetchall()
    stamps = [
        (website, dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)) for website, at in created
    ]
    local_days = [stamp.astimezone(ZoneInfo(zones[w])).date() for w, stamp in stamps]
    assert min(local_days) >= dt.date(2026, 3, 8)  # the first of the 3 days (local)
    assert max(stamp for _, stamp in stamps) <= LATE_EVENING
    for website, day in as_of.items():
        on_as_of = sum(
            1 for (w, _), d in zip(stamps, local_days, strict=True) if w == website and d == day
        )
        assert on_as_of > 0, (website, day)
