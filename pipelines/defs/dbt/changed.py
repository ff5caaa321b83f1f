"""Only what changed: which dbt nodes a run must build, from the change log (issue 16.2).

Every model is a function of the raw tables it reads, the marts' `as_of` and the code (no
model reads the clock but through `as_of`). So a build whose inputs are all equal to those
of the last build that succeeded whole would write the same rows, and is skipped:

- `BuildState`: what a build consumed, stored in `meta._dbt_builds` (one row per build that
  succeeded whole: every node of the project built and tested, no test failed, WARN
  included; and the spark target's STALE marks, below): the change
  log's position (`changes_through`, the highest `meta._changes.seq` when it started), the
  effective `as_of` of every website zone (the date dbt's `as_of_date` gives: the var, or
  today/yesterday in the zone), the project's code fingerprint and the run's dbt vars.
- `plan`: against the last such build, a run (not a full refresh, not an asset subset)
  builds everything when `as_of`, code, vars or the warehouse's bookkeeping differ; else
  only the models, seeds and snapshots downstream of the raw tables with a change logged
  since (dbt `--exclude` of the others, whose tests are left out with them); nothing at
  all when no raw table changed. The incremental models then reprocess their changed
  slices (`macros/incremental/slices.sql`).

What is left out is reported as unchanged (`mealytics/unchanged` metadata) and its tests
are not run again: they passed on the same rows in the build named there.

On the spark target (`spark_plan`) every run builds every node (Spark reads the lake, which
carries no change log) and is not a reference. The change log's only reader there is the
lake writer (`pipelines.lake`), so each spark run prunes the rows the lake has read (per
table, up to its manifest's seq): the log does not grow while runs are on Spark. The DuckDB
build's reference (this table's newest row, and each slices model's `changes._state`) then
no longer matches what the log holds, so the prune writes, in the same transaction, a row
of kind STALE in `meta._dbt_builds`; the next DuckDB run finds it newest and builds with
`--full-refresh` (`Plan.full_refresh`), which equals a clean build, instead of an
incremental one from a window whose changes are gone. A spark run that prunes nothing
leaves the reference valid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines import duck
from pipelines.defs.dbt.project import parsed_files
from pipelines.extract import changes as change_log
from pipelines.extract import warehouse as wh

META = wh.META
BUILDS = f"{META}._dbt_builds"
CHANGES = f"{META}.{change_log.CHANGES}"
SEQUENCE = change_log.SEQUENCE
#: dbt node types that are assets (tests are checks, unit tests neither).
ASSET_TYPES = ("model", "seed", "snapshot")
RAW_SOURCE = "raw"

ALL, SOME, NONE = "all", "some", "none"
#: The kind of a `meta._dbt_builds` row a spark run writes when it pruned the change log:
#: the DuckDB build's reference is stale, the next DuckDB run is a full refresh.
STALE = "stale"
STALE_REASON = (
    "full refresh: a spark-target run pruned the change log since the last DuckDB build "
    "(its reference no longer matches the log)"
)


#: The Python the dbt Python models import (models/**/*.py: `from pipelines.predict …`):
#: code dbt does not parse but the rows depend on, so part of the fingerprint too.
PYTHON_MODEL_CODE = Path(__file__).resolve().parents[2] / "predict"


def code_fingerprint(project_dir: str | Path, python_code: Path = PYTHON_MODEL_CODE) -> str:
    """sha256 of every file dbt parses (`project.parsed_files`: relative path and bytes)
    and of the modules under `python_code` the dbt Python models call."""
    root = Path(project_dir)
    digest = hashlib.sha256()
    for file in parsed_files(root):
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    for file in sorted(Path(python_code).rglob("*.py")):
        digest.update(str(file.relative_to(python_code)).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def effective_as_of(
    con: duckdb.DuckDBPyConnection, as_of: str | None, today_so_far: bool
) -> dict[str, str]:
    """The `as_of` date per website time zone, as dbt's `as_of_date` computes it now (the
    same engine, the same zone database): the var when given, else today (the refresh's
    `today_so_far`) or yesterday in each zone of `raw.accounts_website`."""
    if as_of:
        return {"*": str(as_of)}
    back = 0 if today_so_far else 1
    rows = con.execute(
        "select distinct cast(timezone as varchar), "
        f"cast(cast(now() at time zone cast(timezone as varchar) as date) - {back} as varchar) "
        "from raw.accounts_website"
    ).fetchall()
    return {zone: date for zone, date in sorted(rows)}


@dataclass(frozen=True)
class BuildState:
    """What one build consumed (see the module's docstring)."""

    changes_through: int
    as_of: Mapping[str, str]
    fingerprint: str
    vars: str
    run_id: str | None = None
    finished_at: dt.datetime | None = None
    #: The kind of the stored row (ALL, SOME, NONE, or STALE); None: not stored yet.
    kind: str | None = None

    def same_inputs(self, other: BuildState) -> str | None:
        """Why `other` cannot reuse what this build wrote, or None when only raw may differ."""
        if dict(self.as_of) != dict(other.as_of):
            return "as_of changed"
        if self.fingerprint != other.fingerprint:
            return "the dbt project changed"
        if self.vars != other.vars:
            return "the dbt vars changed"
        return None


@dataclass
class Plan:
    """What a run's dbt build does: `kind` ALL (every node), SOME (only `build`'s nodes;
    `exclude`'s names left out) or NONE (dbt not run), and why."""

    kind: str
    reason: str
    state: BuildState | None = None
    previous: BuildState | None = None
    changed_tables: list[str] = field(default_factory=list)
    #: unique ids of the asset nodes left out (SOME, NONE)
    unchanged: list[str] = field(default_factory=list)
    #: dbt names to --exclude (SOME)
    exclude: list[str] = field(default_factory=list)
    #: whether a successful build is stored as the next run's reference (not for a subset)
    record: bool = True
    #: build with `--full-refresh` (the reference is stale: STALE)
    full_refresh: bool = False
    #: change-log rows this run pruned (spark: the rows the lake has read)
    pruned: int = 0


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {META}")
    con.execute(
        f"""
        create table if not exists {BUILDS} (
            run_id varchar,
            changes_through bigint not null,
            as_of json not null,
            fingerprint varchar not null,
            vars varchar not null,
            kind varchar not null,
            nodes_built integer,
            finished_at timestamptz not null
        )
        """
    )


def last_build(con: duckdb.DuckDBPyConnection) -> BuildState | None:
    """The newest build that succeeded whole, or a spark run's STALE mark written after
    it (`kind`); None: none yet, or an older warehouse."""
    try:
        row = con.execute(
            f"select changes_through, as_of, fingerprint, vars, run_id, finished_at, kind "
            f"from {BUILDS} order by finished_at desc limit 1"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    if row is None:
        return None
    return BuildState(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5], row[6])


def record_build(
    con: duckdb.DuckDBPyConnection, state: BuildState, kind: str, nodes_built: int
) -> None:
    """Store a build that succeeded whole (the next run's reference)."""
    ensure_table(con)
    con.execute(
        f"insert into {BUILDS} values (?, ?, ?, ?, ?, ?, ?, now())",
        [state.run_id, state.changes_through, json.dumps(dict(state.as_of), sort_keys=True),
         state.fingerprint, state.vars, kind, nodes_built],
    )
    # A short history is enough: the newest row decides.
    con.execute(
        f"delete from {BUILDS} where finished_at < "
        f"(select min(finished_at) from (select finished_at from {BUILDS} "
        "order by finished_at desc limit 100))"
    )


def changes_through(con: duckdb.DuckDBPyConnection) -> int | None:
    """The change log's position: the last value its sequence gave (the log itself is pruned
    of what every model has read, so its own maximum goes back); 0 when none was given yet,
    None without a change log."""
    try:
        con.execute(f"select 1 from {CHANGES} limit 0")
    except duckdb.CatalogException:
        return None
    row = con.execute(
        "select coalesce(last_value, 0) from duckdb_sequences() "
        "where schema_name = ? and sequence_name = ?",
        [META, SEQUENCE],
    ).fetchone()
    logged = con.execute(f"select coalesce(max(seq), 0) from {CHANGES}").fetchone()[0]
    return max(row[0] if row else 0, logged)


def changed_tables(con: duckdb.DuckDBPyConnection, after: int, through: int) -> list[str]:
    """The raw tables with a change logged in (after, through]."""
    rows = con.execute(
        f"select distinct table_name from {CHANGES} where seq > ? and seq <= ? order by 1",
        [after, through],
    ).fetchall()
    return [name for (name,) in rows]


def downstream(manifest: Mapping[str, Any], tables: Iterable[str]) -> set[str]:
    """Unique ids of every node reachable from the raw sources `tables` (child_map)."""
    children = manifest.get("child_map", {})
    prefix = {
        source["name"]: uid
        for uid, source in manifest.get("sources", {}).items()
        if source.get("source_name") == RAW_SOURCE
    }
    todo = [prefix[t] for t in tables if t in prefix]
    seen: set[str] = set()
    while todo:
        node = todo.pop()
        for child in children.get(node, ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def asset_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The project's models, seeds and snapshots, by unique id."""
    return {
        uid: node
        for uid, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") in ASSET_TYPES
    }


def topological(manifest: Mapping[str, Any], uids: Iterable[str]) -> list[str]:
    """`uids` parents first (manifest `parent_map`; ties by id), as Dagster requires of the
    assets one step yields."""
    wanted = set(uids)
    parents = manifest.get("parent_map", {})
    order: list[str] = []
    done: set[str] = set()

    def visit(uid: str, path: tuple[str, ...] = ()) -> None:
        if uid in done or uid in path:
            return
        for parent in sorted(parents.get(uid, ())):
            if parent in wanted:
                visit(parent, (*path, uid))
        done.add(uid)
        order.append(uid)

    for uid in sorted(wanted):
        visit(uid)
    return order


def plan(
    warehouse: str | Path,
    manifest: Mapping[str, Any],
    *,
    fingerprint: str,
    vars_: str,
    as_of: str | None,
    today_so_far: bool,
    full_refresh: bool,
    whole: bool,
    only_changed: bool = True,
    run_id: str | None = None,
) -> Plan:
    """What this run's dbt build must do (see the module's docstring). `whole`: the run
    builds every dbt asset (no subset chosen in the UI); `only_changed` False: build every
    node whatever changed; `vars_`: the run's dbt vars as JSON."""
    con = duck.connect(warehouse, read_only=True)
    try:
        through = changes_through(con)
        try:
            dates = effective_as_of(con, as_of, today_so_far)
        except duckdb.Error as exc:  # no raw websites yet, a zone DuckDB does not know
            dates = {"?": f"unknown: {type(exc).__name__}"}
        state = BuildState(through or 0, dates, fingerprint, vars_, run_id)
        if full_refresh:
            return Plan(ALL, "full refresh", state)
        previous = last_build(con)
        if previous is not None and previous.kind == STALE:
            # Whatever else differs: an incremental model would read a window of the log
            # whose rows are gone. A subset is refreshed too, and the mark stays.
            return Plan(ALL, STALE_REASON, state, previous, record=whole, full_refresh=True)
        if not whole:
            return Plan(ALL, "a chosen subset of assets", state, record=False)
        if not only_changed:
            return Plan(ALL, "every model asked for (only_changed off)", state)
        if through is None:
            return Plan(ALL, "no change log in the warehouse yet", state)
        if previous is None:
            return Plan(ALL, "no earlier build that succeeded whole", state)
        why = previous.same_inputs(state)
        if why is not None:
            return Plan(ALL, why, state, previous)
        if through < previous.changes_through:
            return Plan(ALL, "the change log went back (a restored warehouse)", state, previous)
        tables = changed_tables(con, previous.changes_through, through)
    finally:
        con.close()
    return _selection(manifest, tables, state, previous)


def _selection(
    manifest: Mapping[str, Any], tables: list[str], state: BuildState, previous: BuildState
) -> Plan:
    """The plan of a run whose inputs equal the last build's but for the raw `tables`
    changed since: the nodes downstream of them (SOME), all, or none."""
    nodes = asset_nodes(manifest)
    reach = downstream(manifest, tables)
    unchanged = topological(manifest, (uid for uid in nodes if uid not in reach))
    if not tables:
        return Plan(NONE, "no raw table changed since the last build", state, previous,
                    [], unchanged)
    if len(unchanged) == len(nodes):
        return Plan(NONE, f"no model reads the raw table(s) that changed: {', '.join(tables)}",
                    state, previous, tables, unchanged)
    if not unchanged:
        return Plan(ALL, "every model reads a changed table", state, previous, tables)
    exclude = sorted(nodes[uid]["name"] for uid in unchanged)
    return Plan(SOME, f"{len(tables)} raw table(s) changed: {', '.join(tables)}", state,
                previous, tables, unchanged, exclude)


# -- the spark target --------------------------------------------------------------------------


def lake_positions(lake: str | Path) -> dict[str, int]:
    """{raw table: the change log's seq its lake files reflect} (`pipelines.lake`'s
    manifests); tables without a readable manifest, or written before any log, are left out."""
    from pipelines import lake as lake_files

    folder = Path(lake) / lake_files.RAW
    positions = {}
    for manifest_path in sorted(folder.glob(f"*/{lake_files.MANIFEST}")):
        manifest = lake_files.Manifest.load(manifest_path)
        if manifest is not None and manifest.seq is not None:
            positions[manifest.table] = int(manifest.seq)
    return positions


def prune_read_by_lake(
    con: duckdb.DuckDBPyConnection, positions: Mapping[str, int], through: int
) -> int:
    """Delete the change rows the lake has read: of each table in `positions`, those up to
    its seq (and never past `through`, the log's position now). How many. The caller holds
    the transaction."""
    pruned = 0
    for table, seq in sorted(positions.items()):
        (count,) = con.execute(
            f"delete from {CHANGES} where table_name = ? and seq <= ?", [table, min(seq, through)]
        ).fetchone()
        pruned += int(count)
    return pruned


def spark_plan(warehouse: str | Path, lake: str | Path, *, run_id: str | None = None) -> Plan:
    """The spark target's build: every node, not a reference (the change-driven selection is
    DuckDB's). Before it, the change-log rows the lake has read are pruned and, when any
    were, the DuckDB build's reference is marked STALE, in one transaction (see the module's
    docstring): the log does not grow while runs are on Spark, and the next DuckDB run is a
    full refresh."""
    reason = "spark target: every model (the change-driven selection is DuckDB's)"
    con = duck.connect(warehouse)
    try:
        through = changes_through(con)
        if through is None:
            return Plan(ALL, f"{reason}; no change log", record=False)
        positions = lake_positions(lake)
        con.execute("begin transaction")
        try:
            pruned = prune_read_by_lake(con, positions, through)
            if pruned:
                state = BuildState(through, {}, "", "", run_id)
                record_build(con, state, STALE, 0)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.close()
    if not pruned:
        return Plan(ALL, f"{reason}; the change log holds nothing the lake has read",
                    record=False)
    return Plan(
        ALL,
        f"{reason}; {pruned} change-log row(s) the lake has read pruned, so the next "
        "DuckDB run is a full refresh",
        record=False,
        pruned=pruned,
    )
