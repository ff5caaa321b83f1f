"""Shared fixtures: a real PostgreSQL server that the tests start themselves, on loopback.

The server is a throwaway cluster (tests/pgcluster.py: initdb in a temporary directory,
trust authentication, fsync off) listening on 127.0.0.1 at a free port, started once per
test session. Each test that asks for `postgres_url` gets a database of its own, dropped
afterwards.

PostgreSQL refuses to run as root; when the tests run as root (as in CI), the cluster is
run as the `postgres` system user that Debian's package creates.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import duckdb
import pytest
import sqlalchemy as sa
from pgcluster import ClusterError, PostgresCluster

from pipelines.duck import NO_EXTENSIONS

# Runs the tests start through the product (`mealytics run`, Dagster) reconcile every
# table's content every run, as the library's own default does: the demo source changes
# rows without bumping updated_at each simulated day (as Django does), and the tests
# compare raw with the source after each run. The product's daily default and the
# cadence itself are tested on their own (test_extract_content, test_settings_flow).
os.environ.setdefault("MEALYTICS_CONTENT_CHECK_EVERY", "0")

# The tests' own DuckDB connections (helpers reading warehouses) load and fetch no
# extension either, as the product's (pipelines/duck.py): one wrapper for every test file.
_duckdb_connect = duckdb.connect


def _connect_without_extensions(database=":memory:", read_only=False, config=None, **kwargs):
    config = {**(config or {}), **NO_EXTENSIONS}
    return _duckdb_connect(database, read_only=read_only, config=config, **kwargs)


duckdb.connect = _connect_without_extensions


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresCluster]:
    """A PostgreSQL server on loopback for the whole session."""
    try:
        cluster = PostgresCluster().__enter__()  # stops and cleans up if it cannot start
    except ClusterError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


_database_numbers = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server: PostgresCluster) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    admin = sa.create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
