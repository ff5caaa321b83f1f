"""One generated source, extracted and built whole by dbt (every model, seed, snapshot and
data test), shared by the tests of the owners' marts (METRICS.md): each module compares
its marts with figures it computes independently from the source tables.

Built once per test session: a whole build of the project is the expensive part, and the
modules only read it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from dbt_helpers import run_dbt

import seeds
from pipelines.extract import extract_all

#: The shared source: 600 customers over 120 days from 1 January (four calendar months,
#: subscriptions that start, switch, lapse and come back; campaigns with control groups).
OWNERS_START = dt.date(2026, 1, 1)
OWNERS_DAYS = 120
OWNERS_AS_OF = "2026-04-30"


@dataclasses.dataclass(frozen=True)
class OwnersBuild:
    source: Path
    warehouse: Path
    as_of: dt.date

    @property
    def source_url(self) -> str:
        return f"sqlite:///{self.source}"


@pytest.fixture(scope="session")
def owners_build(tmp_path_factory: pytest.TempPathFactory) -> OwnersBuild:
    root = tmp_path_factory.mktemp("owners")
    source, warehouse = root / "source.db", root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=600, days=OWNERS_DAYS, seed=11, start=OWNERS_START,
        progress=False,
    )
    assert extract_all(f"sqlite:///{source}", str(warehouse)).ok
    result = run_dbt(warehouse, "build", as_of=OWNERS_AS_OF)
    assert result.returncode == 0, result.stdout[-6000:]
    return OwnersBuild(source, warehouse, dt.date.fromisoformat(OWNERS_AS_OF))
