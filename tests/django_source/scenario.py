"""The scenario: populate through the ORM → extract (full) → saves → extract → dbt builds
the marts → Django's other behaviours → extract (incremental); and the checks of raw
against the source. The marts built before the behaviours let the test rebuild them
incrementally (dbt's slices from the change log) and compare with a clean build.

Imported once Django is configured (`django_source.configure.configure`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from django_source.behaviours import ChangeLog, django_behaviours, saves_only
from django_source.business import Business, populate
from django_source.compare import Difference, Explain, differences, read_raw, read_source
from django_source.database import DjangoDatabase
from django_source.models import MODELS
from pipelines.extract import ExtractOptions, ExtractReport, extract_all

#: How often the runs reconcile content (`ExtractOptions.content_check_every`): every run
#: on SQLite, which has no change log; never on PostgreSQL, where the change cursor
#: (`xmin`) alone must see every committed change.
CONTENT_CHECK_EVERY: dict[str, dt.timedelta | None] = {
    "sqlite": dt.timedelta(0),
    "postgresql": None,
}

MISSING_CONTENT_CHECK = (
    "ExtractOptions has no content_check_every on this branch: content reconciliation "
    "(issue 14) is not there; the runs used the default options"
)


def has_content_check() -> bool:
    return "content_check_every" in {f.name for f in dataclasses.fields(ExtractOptions)}


def extract_options(vendor: str) -> ExtractOptions:
    """The runs' options: content reconciliation per `CONTENT_CHECK_EVERY` where the
    extractor has it (else the defaults, and the failures say so)."""
    if has_content_check():
        return ExtractOptions(content_check_every=CONTENT_CHECK_EVERY[vendor])
    return ExtractOptions()


@dataclass
class Outcome:
    db: DjangoDatabase
    business: Business
    log: ChangeLog
    #: The warehouse the three runs extracted into.
    warehouse: Path
    options: ExtractOptions
    reports: list[ExtractReport] = field(default_factory=list)
    #: raw against the source after the saves alone (money at the contract's scale).
    control: list[Difference] = field(default_factory=list)
    #: Each table's highest `updated_at` before Django's other behaviours: the next
    #: run's watermark (the cursor then reads from it minus the lookback).
    watermarks: dict[str, dt.datetime] = field(default_factory=dict)
    #: The marts' as_of: the marts were built once, as of it, before the behaviours.
    as_of: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())


def extract(outcome: Outcome, warehouse: Path | None = None) -> ExtractReport:
    report = extract_all(
        outcome.db.url, str(warehouse or outcome.warehouse), options=outcome.options
    )
    assert report.ok, {t: repr(e) for t, e in report.errors.items()}
    return report


def run(db: DjangoDatabase, demo: dict[str, list[dict]], root: Path) -> Outcome:
    business = populate(db, demo)
    db.close()
    log = ChangeLog(db)
    outcome = Outcome(db, business, log, root / "warehouse.duckdb", extract_options(db.vendor))
    outcome.reports.append(extract(outcome))
    saves_only(log, business)
    outcome.reports.append(extract(outcome))
    outcome.control = compare(db, outcome.warehouse, money="cents", explain=log.explain)
    snapshot = log.snapshot()
    outcome.watermarks = {
        table: max(r["updated_at"] for r in rows.values() if r["updated_at"] is not None)
        for table, rows in snapshot.items()
        if rows and "updated_at" in next(iter(rows.values()))
    }
    from django_source.marts import build_marts

    build_marts(outcome.warehouse, outcome.as_of)
    django_behaviours(log, business)
    outcome.reports.append(extract(outcome))
    return outcome


def compare(
    db: DjangoDatabase,
    warehouse: Path,
    *,
    money: str = "exact",
    explain: Explain | None = None,
) -> list[Difference]:
    """Every source table against its raw copy (`compare.differences`)."""
    out: list[Difference] = []
    with db.driver() as con, duckdb.connect(str(warehouse), read_only=True) as wh:
        wh.execute("SET TimeZone = 'UTC'")
        for table in MODELS:
            source = read_source(con, table)
            raw = read_raw(wh, table, source.columns, money=money)
            if isinstance(raw, str):
                out.append(Difference(table, None, None, raw))
            else:
                out += differences(source, raw, explain)
    return out


def report(found: list[Difference], outcome: Outcome, *, limit: int = 40) -> str:
    """The differences as a message: which behaviours' changes raw lacks (or holds
    inexactly), then the differences, each naming table, key, column and cause."""
    log = outcome.log
    behaviours = list(dict.fromkeys(c.behaviour for c in log.changes))
    missed = [b for b in behaviours if any(b in d.causes for d in found)]
    unexplained = sum(1 for d in found if not d.causes)
    lines = [
        f"{len(found)} difference(s) in {len({d.table for d in found})} table(s); "
        f"raw lacks the changes of {len(missed)} of the {len(behaviours)} logged behaviours"
        + (": " + "; ".join(missed) if missed else "")
        + f"; {unexplained} difference(s) in values no behaviour changed"
    ]
    lines += [d.text for d in found[:limit]]
    if len(found) > limit:
        lines.append(f"… and {len(found) - limit} more")
    if not has_content_check():
        lines.append(MISSING_CONTENT_CHECK)
    elif outcome.options.content_check_every is None:
        lines.append(
            "(the runs reconciled no content: on this source the change cursor alone must "
            "see every committed change)"
        )
    return "\n".join(lines)
