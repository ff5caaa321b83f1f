"""Publishing on the spark target: Spark's marts into the SAME published output as DuckDB's.

On the duckdb target the publication reads schema `marts` of the build file
(`pipelines.publish.version`). On spark the marts are Parquet tables Spark wrote under
`$MEALYTICS_LAKE/spark-warehouse/marts.db/<mart>/` (spark.sql.warehouse.dir's layout: the
contract of issue 19), so the seam is the build file itself: `stage` makes a small DuckDB
file whose schema `marts` holds

- one VIEW per Spark mart over its Parquet files (`part-*.parquet`; Spark's `_SUCCESS`,
  `.crc` and other `_`/`.` names are not data; a partitioned table's `col=value/` folders
  are read with Hive partitioning), each column cast to the type the mart's dbt contract
  declares for DuckDB (`contract_types`, from the manifest) where Spark's Parquet type
  differs (e.g. Spark's INT96 or TIMESTAMP_NTZ timestamps back to TIMESTAMPTZ);
- the table macros (dbt's `table_macro` materialization, DuckDB SQL over the marts),
  created from their SQL compiled for DuckDB (`compiled_macros`: `dbt compile` on the
  duckdb target against this very file, the macros' `parameters` from the manifest);

and `publish_from_spark` hands that file to `publish_version` unchanged: the same Parquet
layout and fingerprints (unchanged files linked), the same catalog (views, macros,
`publish.manifest`), the same dashboard, one atomic switch. The staged file holds views
and macros only (no rows), and is deleted after the publication.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

from pipelines import duck
from pipelines.publish.data import MARTS

#: Spark's warehouse folder inside the lake, and the marts' database folder in it.
SPARK_WAREHOUSE = "spark-warehouse"
MARTS_DB = f"{MARTS}.db"
TABLE_MACRO = "table_macro"


def _literal(value: str | os.PathLike) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def marts_folder(lake: str | os.PathLike) -> Path:
    return Path(lake) / SPARK_WAREHOUSE / MARTS_DB


def _visible(path: Path) -> bool:
    return not path.name.startswith(("_", "."))


def spark_marts(lake: str | os.PathLike) -> dict[str, Path]:
    """{mart: its table folder} of Spark's marts database (empty when there is none)."""
    folder = marts_folder(lake)
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and _visible(p)}


def _data_files(table: Path) -> tuple[list[Path], bool]:
    """A Spark table folder's Parquet data files, and whether they sit in partition folders."""
    files, partitioned = [], False
    for folder, dirs, names in os.walk(table):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        here = Path(folder)
        partitioned = partitioned or (here != table and bool(names))
        files += [here / n for n in sorted(names) if n.endswith(".parquet") and _visible(here / n)]
    return files, partitioned


def contract_types(manifest: Mapping) -> dict[str, dict[str, str]]:
    """{mart: {column: DuckDB type}} of the marts' dbt contracts (a parsed manifest.json
    of the duckdb target), the table macros left out."""
    types: dict[str, dict[str, str]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model" or node.get("schema") != MARTS:
            continue
        if node.get("config", {}).get("materialized") == TABLE_MACRO:
            continue
        columns = {
            name: column["data_type"]
            for name, column in node.get("columns", {}).items()
            if column.get("data_type")
        }
        types[node["name"]] = columns
    return types


def _view(con: duckdb.DuckDBPyConnection, table: Path, types: Mapping[str, str]) -> str:
    files, partitioned = _data_files(table)
    if not files:
        raise FileNotFoundError(f"{table}: no Parquet data file (did Spark build the mart?)")
    listing = ", ".join(_literal(f) for f in files)
    scan = f"read_parquet([{listing}], hive_partitioning = {str(partitioned).lower()})"
    found = con.execute(f"describe select * from {scan}").fetchall()
    wanted = {name.lower(): kind for name, kind in types.items()}
    select = []
    for name, kind, *_ in found:
        target = wanted.get(name.lower())
        column = _identifier(name)
        if target is None or _same_type(con, kind, target):
            select.append(column)
        elif kind.startswith("TIMESTAMP") and _spelled(con, target) == "TIMESTAMP WITH TIME ZONE":
            # Spark's timestamps are instants written as UTC wall time (INT96, NTZ): read
            # them in UTC whatever the reader's TimeZone.
            select.append(f"timezone('UTC', cast({column} as timestamp)) as {column}")
        else:
            select.append(f"cast({column} as {target}) as {column}")
    return f"select {', '.join(select)} from {scan}"


def _spelled(con: duckdb.DuckDBPyConnection, declared: str) -> str | None:
    """DuckDB's name of a declared type (None: not a DuckDB type)."""
    try:
        return con.execute(f"select typeof(cast(null as {declared}))").fetchone()[0]
    except duckdb.Error:
        return None


def _same_type(con: duckdb.DuckDBPyConnection, found: str, declared: str) -> bool:
    """Whether the Parquet column's type is the declared one (a type DuckDB does not know
    counts as the same: what Spark wrote is kept)."""
    spelled = _spelled(con, declared)
    return spelled is None or spelled == found


def _split_parameters(parameters: list[str]) -> str:
    return ", ".join(parameters)


def compiled_macros(manifest: Mapping, compiled_dir: str | os.PathLike) -> dict[str, str]:
    """{macro: CREATE MACRO statement} of the table macros, from their SQL compiled for
    DuckDB (`dbt compile` on the duckdb target: target/compiled/<package>/<path>) and their
    `parameters`. References keep no database name (as the materialization writes them)."""
    statements = {}
    for node in manifest.get("nodes", {}).values():
        config = node.get("config", {})
        if node.get("resource_type") != "model" or config.get("materialized") != TABLE_MACRO:
            continue
        path = Path(compiled_dir) / node["package_name"] / node["original_file_path"]
        body = path.read_text()
        if node.get("database"):
            body = body.replace(f'"{node["database"]}".', "")
        # `"db"."marts"."x"` → `"marts"."x"`; any other database prefix in the compiled refs.
        body = re.sub(r'"[^"]+"\.("(?:' + MARTS + r')"\.)', r"\1", body)
        statements[node["name"]] = (
            f"create or replace macro {node['schema']}.{node['alias'] or node['name']}"
            f"({_split_parameters(config.get('parameters') or [])}) as table\n{body}"
        )
    return statements


def stage(
    lake: str | os.PathLike,
    staging: str | os.PathLike,
    *,
    types: Mapping[str, Mapping[str, str]] | None = None,
    macros: Mapping[str, str] | None = None,
) -> list[str]:
    """The DuckDB file `staging` (replaced) with schema marts: a view per Spark mart, the
    `macros`; the marts' names."""
    staging = Path(staging)
    staging.unlink(missing_ok=True)
    marts = spark_marts(lake)
    if not marts:
        raise FileNotFoundError(
            f"no Spark marts in {marts_folder(lake)}: the spark target's dbt build writes them"
        )
    con = duck.connect(staging)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"create schema {MARTS}")
        for name, folder in marts.items():
            select = _view(con, folder, (types or {}).get(name, {}))
            con.execute(f"create view {MARTS}.{_identifier(name)} as {select}")
        for name, statement in (macros or {}).items():
            try:
                con.execute(statement)
            except duckdb.Error as exc:
                raise RuntimeError(
                    f"table macro {name} does not bind on the Spark marts: {exc}"
                ) from exc
        con.execute("checkpoint")
    finally:
        con.close()
    return list(marts)


def compile_for_duckdb(
    project_dir: str | os.PathLike, database: str | os.PathLike, out: str | os.PathLike
) -> tuple[dict, Path]:
    """`dbt compile` of the table macros on the duckdb target against `database`: (the
    manifest, the compiled SQL's folder). dbt opens `database` (a scratch DuckDB file)."""
    import subprocess

    from pipelines.defs.dbt.project import dbt_executable

    project_dir, out = Path(project_dir), Path(out)
    args = [
        dbt_executable(),
        "compile",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(out),
        "--log-path",
        str(out / "logs"),
        "--target",
        "dev",
        "--select",
        f"config.materialized:{TABLE_MACRO}",
        "--vars",
        json.dumps({"warehouse": str(Path(database).resolve())}),
    ]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"dbt compile of the table macros failed:\n{done.stdout[-4000:]}")
    return load_manifest(out / "manifest.json"), out / "compiled"


def publish_from_spark(
    lake: str | os.PathLike,
    publish_folder: str | os.PathLike,
    *,
    published: str | os.PathLike | None = None,
    details: dict | None = None,
    types: Mapping[str, Mapping[str, str]] | None = None,
    macros: Mapping[str, str] | None = None,
    staging: str | os.PathLike | None = None,
    project_dir: str | os.PathLike | None = None,
) -> dict:
    """A new published version from Spark's marts (`stage`, then `publish_version`).
    With `project_dir` (the dbt project), the contract types and the table macros come
    from `dbt compile` on the duckdb target (`compile_for_duckdb`); else from `types` and
    `macros`."""
    import shutil
    import tempfile

    from pipelines.publish.version import publish_version

    staging = Path(staging) if staging else Path(lake) / f".spark-marts.{os.getpid()}.duckdb"
    work = None
    try:
        if project_dir is not None:
            work = Path(tempfile.mkdtemp(prefix=".dbt-compile-", dir=Path(lake)))
            manifest, compiled = compile_for_duckdb(project_dir, staging, work)
            types, macros = contract_types(manifest), compiled_macros(manifest, compiled)
        stage(lake, staging, types=types, macros=macros)
        return publish_version(
            staging,
            publish_folder,
            published=published,
            details={**(details or {}), "engine": "spark"},
        )
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        staging.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            Path(f"{staging}.wal").unlink()


def load_manifest(path: str | os.PathLike) -> dict:
    return json.loads(Path(path).read_text())


def mart_rows(lake: str | os.PathLike, marts: list[str]) -> dict[str, int | None]:
    """Rows of each Spark mart (Parquet footers), None for one Spark has not written."""
    folders = spark_marts(lake)
    rows: dict[str, int | None] = dict.fromkeys(marts)
    con = duck.connect()
    try:
        for mart in marts:
            files = _data_files(folders[mart])[0] if mart in folders else []
            if files:
                listing = ", ".join(_literal(f) for f in files)
                with contextlib.suppress(duckdb.Error):
                    rows[mart] = con.execute(
                        f"select count(*) from read_parquet([{listing}])"
                    ).fetchone()[0]
    finally:
        con.close()
    return rows
