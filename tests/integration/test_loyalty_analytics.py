"""`mealytics loyalty-analytics` on a generated source, extracted and built by dbt: its JSON
agrees field for field with request 003's `calculate` computed independently (pandas) from
the source's own ledger, redemptions and items; a missing warehouse or missing marts is one
line and exit code 1.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_helpers import run_dbt

import seeds
from models.thresholds import LOYALTY_TIER_THRESHOLDS
from pipelines import cli
from pipelines.extract import extract_all

START = dt.date(2026, 1, 1)
AS_OF = "2026-02-28"
#: (floor, tier), highest first: the contract's thresholds, the one copy dbt's seed follows.
THRESHOLDS = [(floor, tier) for tier, floor in reversed(LOYALTY_TIER_THRESHOLDS)]
WINDOWS = [
    ("2026-01-01", "2026-01-31"),
    ("2026-02-01", "2026-02-01"),
    ("2026-02-10", "2026-02-28"),
    ("2026-01-20", "2026-01-20"),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated SQLite source and a warehouse extracted from it and built by dbt."""
    root = tmp_path_factory.mktemp("loyalty")
    source = root / "source.db"
    warehouse = root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=400, days=60, seed=7, start=START, progress=False
    )
    _add_expiries(source)
    report = extract_all(f"sqlite:///{source}", str(warehouse))
    assert report.ok, report.errors
    result = run_dbt(
        warehouse,
        "build",
        "--select",
        "+loyalty_calculate",
        "+loyalty_points_trend",
        "+loyalty_tier_distribution",
        "+loyalty_engagement_stats",
        "--indirect-selection",
        "cautious",
        as_of=AS_OF,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return source, warehouse


def _add_expiries(source: Path) -> None:
    """The demo generator writes no 'expire' entries: add some, as the operational app
    would. The 20 largest balances of each website lose 40% on 15 Feb; the 5 next lose all
    of it (they stop being active) at 22:30 UTC on 31 Jan, which is 1 Feb in both zones."""
    with sqlite3.connect(source) as con:
        next_id = con.execute("select max(id) from loyalty_loyaltytransaction").fetchone()[0]
        balances = con.execute(
            """
            select account.website_id, ledger.account_id, sum(ledger.points) as balance
            from loyalty_loyaltytransaction as ledger
            join loyalty_loyaltyaccount as account on account.id = ledger.account_id
            where ledger.created_at < '2026-01-31 22:30:00'
            group by account.website_id, ledger.account_id
            order by account.website_id, balance desc, ledger.account_id
            """
        ).fetchall()
        rows, ranks = [], {}
        for website, account, balance in balances:
            rank = ranks[website] = ranks.get(website, 0) + 1
            if rank <= 20:
                rows.append((account, -(balance * 2 // 5), "2026-02-15 12:00:00.000000"))
            elif rank <= 25:
                rows.append((account, -balance, "2026-01-31 22:30:00.000000"))
        con.executemany(
            "insert into loyalty_loyaltytransaction "
            "(id, account_id, points, transaction_type, source, order_id, redemption_id,"
            " created_at) values (?, ?, ?, 'expire', 'manual', null, null, ?)",
            [(next_id + n, *row) for n, row in enumerate(rows, start=1)],
        )


def _rounded(numerator: int, denominator: int) -> float | None:
    """numerator / denominator to 2 decimals, half away from zero; None for 0."""
    if not denominator:
        return None
    return float(
        (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    )


@functools.cache
def _source_frames(source: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The source's ledger and completed redemptions up to AS_OF, each row with its website
    and local business date, and the redemption items."""
    with sqlite3.connect(source) as con:
        websites = pd.read_sql("select id, timezone from accounts_website", con)
        accounts = pd.read_sql("select id, website_id from loyalty_loyaltyaccount", con)
        ledger = pd.read_sql(
            "select account_id, points, transaction_type, created_at"
            " from loyalty_loyaltytransaction",
            con,
        )
        redemptions = pd.read_sql(
            "select account_id, item_id, points_spent, status, created_at from loyalty_redemption",
            con,
        )
        items = pd.read_sql("select id, name from loyalty_redemptionitem", con)
    zones = dict(zip(websites.id, websites.timezone, strict=True))
    site_of = dict(zip(accounts.id, accounts.website_id, strict=True))

    def local_dates(frame: pd.DataFrame) -> pd.Series:
        utc = pd.to_datetime(frame.created_at, utc=True, format="ISO8601")
        site = frame.account_id.map(site_of)
        return pd.Series(
            [ts.tz_convert(zones[w]).date().isoformat() for ts, w in zip(utc, site, strict=True)],
            index=frame.index,
        )

    ledger["website"], ledger["day"] = ledger.account_id.map(site_of), local_dates(ledger)
    redemptions["website"], redemptions["day"] = (
        redemptions.account_id.map(site_of),
        local_dates(redemptions),
    )
    ledger = ledger[ledger.day <= AS_OF]
    completed = redemptions[(redemptions.status == "completed") & (redemptions.day <= AS_OF)]
    return ledger, completed, items


def _expected(source: Path, date_from: str, date_to: str) -> list[dict]:
    """Request 003's `calculate` per website, straight from the source tables (METRICS.md)."""
    ledger, completed, items = _source_frames(source)
    answers = []
    for website in sorted(ledger.website.unique()):
        rows = ledger[ledger.website == website]
        window = rows[(rows.day >= date_from) & (rows.day <= date_to)]
        to_date = rows[rows.day <= date_to]
        balances = to_date.groupby("account_id").points.sum()
        lifetime = to_date[to_date.points > 0].groupby("account_id").points.sum()
        active = balances[balances > 0].index
        tiers = {tier: 0 for _, tier in THRESHOLDS}
        for account in active:
            earned = lifetime.get(account, 0)
            tiers[next(tier for floor, tier in THRESHOLDS if earned >= floor)] += 1
        spent = completed[
            (completed.website == website)
            & (completed.day >= date_from)
            & (completed.day <= date_to)
        ]
        counts = spent.groupby("item_id").size()
        top = min(counts.index, key=lambda item: (-counts[item], item)) if len(counts) else None
        redeemers = spent.account_id.nunique()
        balance = int(balances.sum())
        answers.append(
            {
                "website": int(website),
                "date_from": date_from,
                "date_to": date_to,
                "total_active_clients": len(active),
                "total_points_issued": int(window[window.points > 0].points.sum()),
                "total_points_redeemed": int(
                    -window[window.transaction_type == "redeem"].points.sum()
                ),
                "total_points_balance": balance,
                "total_redemptions": len(spent),
                "total_redemption_value": int(spent.points_spent.sum()),
                "most_popular_item": None if top is None else int(top),
                "most_popular_item_name": None if top is None else items.set_index("id").name[top],
                "bronze_count": tiers["bronze"],
                "silver_count": tiers["silver"],
                "gold_count": tiers["gold"],
                "platinum_count": tiers["platinum"],
                "active_redemptions_ratio": _rounded(100 * redeemers, len(active)),
                "average_points_per_client": _rounded(balance, len(active)),
            }
        )
    return answers


@pytest.mark.parametrize(("date_from", "date_to"), WINDOWS)
def test_cli_json_matches_the_source_ledger(built, capsys, date_from: str, date_to: str) -> None:
    source, warehouse = built
    code = cli.main(
        ["loyalty-analytics", "--from", date_from, "--to", date_to, "--warehouse", str(warehouse)]
    )
    output = capsys.readouterr().out
    assert code == 0
    got = json.loads(output)
    expected = _expected(source, date_from, date_to)
    assert [row["website"] for row in got] == [row["website"] for row in expected]
    for row, want in zip(got, expected, strict=True):
        assert list(row) == list(want)  # request 003's fields, in its order
        assert row == want
    assert any(row["total_points_issued"] for row in got)  # the windows are not trivially empty
    if date_from != date_to:
        assert any(row["total_redemptions"] for row in got)


def test_one_website_is_one_object_with_two_decimal_ratios(built, capsys) -> None:
    _, warehouse = built
    code = cli.main(
        [
            "loyalty-analytics",
            "--from",
            "2026-01-01",
            "--to",
            AS_OF,
            "--website",
            "1",
            "--warehouse",
            str(warehouse),
        ]
    )
    output = capsys.readouterr().out
    assert code == 0
    row = json.loads(output)
    assert row["website"] == 1
    ratio_text = output.split('"active_redemptions_ratio": ')[1].split(",")[0]
    assert len(ratio_text.split(".")[1]) == 2  # written as e.g. 36.00, not 36.0


def test_missing_warehouse_or_marts_is_one_line_and_exit_1(tmp_path: Path, capsys) -> None:
    code = cli.main(
        [
            "loyalty-analytics",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
            "--warehouse",
            str(tmp_path / "missing.duckdb"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "no warehouse" in err

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    code = cli.main(
        [
            "loyalty-analytics",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
            "--warehouse",
            str(empty),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "loyalty_calculate" in err


def test_points_daily_matches_the_source_ledger(built) -> None:
    """Every day of fct_loyalty_points_daily (through the points_trend macro): flows,
    balance and active clients, expiries included."""
    source, warehouse = built
    ledger, _, _ = _source_frames(source)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = con.execute(
            'select website_id, cast("date" as varchar), issued, redeemed, expired, balance,'
            " active_clients from marts.loyalty_points_trend(?, 1000) order by 1, 2",
            [dt.date.fromisoformat(AS_OF)],
        ).fetchall()
    assert got and sum(row[4] for row in got) > 0  # expiries are exercised
    for website, day, issued, redeemed, expired, balance, active in got:
        rows = ledger[ledger.website == website]
        today, to_date = rows[rows.day == day], rows[rows.day <= day]
        balances = to_date.groupby("account_id").points.sum()
        assert issued == today[today.points > 0].points.sum(), day
        assert redeemed == -today[today.transaction_type == "redeem"].points.sum(), day
        assert expired == -today[today.transaction_type == "expire"].points.sum(), day
        assert balance == balances.sum(), day
        assert active == (balances > 0).sum(), day


@pytest.mark.parametrize("as_of", ["2026-01-15", "2026-02-01", AS_OF])
def test_tier_distribution_and_engagement_match_the_source(built, as_of: str) -> None:
    """Tiers of the active clients and the 30-day engagement stats at a date, against the
    source ledger, redemptions and accounts."""
    source, warehouse = built
    ledger, completed, _ = _source_frames(source)
    with sqlite3.connect(source) as con:
        accounts = pd.read_sql("select id, website_id, created_at from loyalty_loyaltyaccount", con)
        zones = dict(con.execute("select id, timezone from accounts_website").fetchall())
    created = pd.to_datetime(accounts.created_at, utc=True, format="ISO8601")
    accounts["day"] = [
        ts.tz_convert(zones[w]).date().isoformat()
        for ts, w in zip(created, accounts.website_id, strict=True)
    ]
    day = dt.date.fromisoformat(as_of)
    start = (day - dt.timedelta(days=29)).isoformat()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tiers = con.execute(
            'select website_id, tier, "count" from marts.loyalty_tier_distribution(?)', [day]
        ).fetchall()
        engagement = con.execute(
            "select * from marts.loyalty_engagement_stats(?, 30) order by website_id", [day]
        ).fetchall()
    expected_tiers, expected_engagement = [], []
    for website in sorted(ledger.website.unique()):
        rows = ledger[(ledger.website == website) & (ledger.day <= as_of)]
        balances = rows.groupby("account_id").points.sum()
        lifetime = rows[rows.points > 0].groupby("account_id").points.sum()
        active = balances[balances > 0].index
        counts = {tier: 0 for _, tier in THRESHOLDS}
        for account in active:
            earned = lifetime.get(account, 0)
            counts[next(tier for floor, tier in THRESHOLDS if earned >= floor)] += 1
        expected_tiers += [(int(website), tier, n) for tier, n in counts.items()]
        total = int(((accounts.website_id == website) & (accounts.day <= as_of)).sum())
        moved = rows[rows.day >= start].account_id.nunique()
        spent = completed[
            (completed.website == website) & (completed.day >= start) & (completed.day <= as_of)
        ].account_id.nunique()
        expected_engagement.append(
            (
                int(website),
                total,
                len(active),
                spent,
                moved,
                _rounded(100 * moved, total),
                _rounded(100 * spent, len(active)),
            )
        )
    assert sorted(tiers) == sorted(expected_tiers)
    got = [(*row[:5], float(row[5]), float(row[6])) for row in engagement]
    assert got == expected_engagement
