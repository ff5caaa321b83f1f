"""The marts' `as_of` date must be a day the source can describe (issue 15).

`as_of` is the business date the marts call "now". Outside [first source date, tomorrow] it
can only produce nonsense that looks like data: `--as-of 2099-01-01` built 52,781 empty days
per daily mart, `--as-of 2020-01-01` empty marts, and both were published. So an `as_of`
given on purpose (`--as-of`, `MEALYTICS_AS_OF`, a run's config) is checked before anything
is built or published, and refused with one line.

- **First source date**: the earliest business date the source has: the earliest of each
  website's creation (`accounts_website.created_at`) and its first order
  (`orders_order.created_at`), each as a date in that website's own time zone (business
  dates are local, METRICS.md), the earliest over all websites. A source with no website has
  none, and only the upper bound applies.
- **Tomorrow**: today in UTC plus one day: the business date of a website east of UTC can be
  a day ahead of UTC's (up to UTC+14), never two.

The default `as_of` (yesterday in each website's zone) is not checked: it is always a day
that has happened, and a brand-new source may not reach it yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from pipelines.duck import NO_EXTENSIONS
from pipelines.errors import MealyticsError

log = logging.getLogger(__name__)


class AsOfError(MealyticsError, ValueError):
    """`as_of` is outside [first source date, tomorrow]: refused before the run builds."""


def _local_date(moment: dt.datetime | str | None, zone: str | None) -> dt.date | None:
    if moment is None:
        return None
    if isinstance(moment, str):  # a driver that hands back text (SQLite without types)
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # Django stores UTC
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    return moment.astimezone(tz).date()


def first_source_date(conn: sa.Connection, schema: str | None = None) -> dt.date | None:
    """The source's first business date (see the module's docstring), or None without a
    website. `schema`: where the tables are (`raw` for the warehouse's copies)."""
    from models.schema import accounts_website, orders_order

    if schema is not None:
        conn = conn.execution_options(schema_translate_map={None: schema})
    websites = {
        website_id: (zone, created_at)
        for website_id, zone, created_at in conn.execute(
            sa.select(accounts_website.c.id, accounts_website.c.timezone,
                      accounts_website.c.created_at)
        )
    }
    first_orders = dict(
        conn.execute(
            sa.select(orders_order.c.website_id, sa.func.min(orders_order.c.created_at))
            .group_by(orders_order.c.website_id)
        ).all()
    )
    dates = [
        day
        for website_id, (zone, created_at) in websites.items()
        for day in (_local_date(created_at, zone), _local_date(first_orders.get(website_id), zone))
        if day is not None
    ]
    return min(dates) if dates else None


def check_as_of(
    as_of: dt.date | None, first: dt.date | None, *, today: dt.date | None = None
) -> None:
    """Raise `AsOfError` (one line, naming the allowed range) if `as_of` is outside
    [`first`, `today` + 1]; `today` defaults to today in UTC. None (no `as_of`): nothing."""
    if as_of is None:
        return
    tomorrow = (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1)
    allowed = f"from {first} to {tomorrow}" if first else f"up to {tomorrow}"
    if as_of > tomorrow:
        raise AsOfError(
            f"as_of {as_of} is after tomorrow ({tomorrow}, UTC): the marts would describe days "
            f"that have not happened; nothing was built or published (use a date {allowed})"
        )
    if first is not None and as_of < first:
        raise AsOfError(
            f"as_of {as_of} is before the source's first business date ({first}): the marts "
            f"would be empty; nothing was built or published (use a date {allowed})"
        )


def guard_source(as_of: dt.date | None, source_url: str) -> None:
    """`check_as_of` against the source at `source_url` (read only when `as_of` is given).

    A source that cannot be read here is not this check's to report: the lower bound is
    skipped (the extraction then fails with its own, password-free message)."""
    if as_of is None:
        return
    first = None
    try:
        engine = sa.create_engine(source_url)
        try:
            with engine.connect() as conn:
                first = first_source_date(conn)
        finally:
            engine.dispose()
    except (sa.exc.SQLAlchemyError, ValueError, OSError) as exc:
        log.warning("as_of: the source's first date could not be read (%s)", type(exc).__name__)
    check_as_of(as_of, first)


def guard_warehouse(as_of: dt.date | None, warehouse: str) -> None:
    """`check_as_of` against the warehouse's copy of the source (schema `raw`)."""
    if as_of is None:
        return
    first = None
    engine = sa.create_engine(
        f"duckdb:///{warehouse}", connect_args={"read_only": True, "config": dict(NO_EXTENSIONS)}
    )
    try:
        with engine.connect() as conn:
            first = first_source_date(conn, schema="raw")
    except sa.exc.SQLAlchemyError as exc:  # no raw copy yet: the upper bound still holds
        log.warning("as_of: raw's first date could not be read (%s)", type(exc).__name__)
    finally:
        engine.dispose()
    check_as_of(as_of, first)
