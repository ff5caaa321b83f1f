"""One publication, all or nothing: the marts of one build as Parquet, the DuckDB catalog over
them and the dashboard, switched in together by one atomic rename.

Every publication is a version, a folder of its own under `<publish dir>/publish/versions/`:

    publish/versions/20261207T020412Z-3f9c2a1b/
        parquet/<mart>.parquet  every mart (a large one: parquet/<mart>/business_month=…/)
        published.duckdb      the catalog readers open: a view per mart over these files,
                              the marts' table macros, publish.manifest (`warehouse.py`)
        dashboard.html        the static dashboard, rendered from that catalog
        version.json          what the version holds: rows per mart, each Parquet file's
                              fingerprint and whether it was written or linked, run, time

Nothing but the marts leaves the build file: no raw, staging or intermediate relation, no
personal data (DESIGN.md). Only what changed is written: a Parquet file whose fingerprint
equals the current version's is hard-linked from it (`parquet.py`).

A version is built under a temporary name (`.<id>.<pid>.tmp`), fsynced, renamed to its id,
and then made current by ONE atomic rename: the symlink `publish/current` is replaced by a
new symlink to the new version. While it is built, `versions/<id>` is a symlink to the
temporary folder: the catalog's views name their files at their final, absolute paths, and
DuckDB reads a view's files when it creates it. The paths readers use are fixed symlinks
through `current`, created once:

    published.duckdb -> publish/current/published.duckdb   (or MEALYTICS_PUBLISHED)
    parquet          -> publish/current/parquet
    dashboard.html   -> publish/current/dashboard.html

So the three outputs always come from the same build: a failure anywhere before the switch
(a killed process, a full disk, a refused publication) leaves `current`, hence every reader
path, on the previous version, whole. A reader that opened `published.duckdb` reads its own
version's Parquet files until it reconnects; so a version is pruned (beyond the last
`KEEP_VERSIONS`, kept for readers that list `parquet/` and open files one by one) only when
no process holds its `published.duckdb` (DuckDB's own file lock: `holders.py`), else on a
later publication. A reader that needs several files of one version resolves
`publish/current` once (`os.path.realpath`) and reads under that folder.

Files from before versioned publishing (a regular `published.duckdb`, `dashboard.html`,
`parquet/` folder) are replaced by the symlinks on the first publication: the two files
atomically, the Parquet folder renamed aside first (for that one publication, `parquet/`
is missing for the instant between the two renames).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from pipelines import duck
from pipelines.extract.warehouse import LOCK_WAIT_S, connect_waiting
from pipelines.publish import holders, leftovers, parquet
from pipelines.publish.dashboard import write_dashboard
from pipelines.publish.warehouse import PUBLISHED_STORAGE_VERSION, view_sql, write_catalog

#: The folder of versions and the `current` pointer, inside the publish folder.
VERSIONS_DIR = "publish"
CURRENT = "current"
#: Versions kept: the current one and the previous one (readers in the middle of a listing).
KEEP_VERSIONS = 2
#: The files of a version, and the reader paths (in the publish folder) that point at them.
DATABASE = "published.duckdb"
PARQUET = "parquet"
DASHBOARD = "dashboard.html"
MANIFEST_FILE = "version.json"

_VERSION = re.compile(r"^\d{8}T\d{6}\d{0,6}Z-[0-9a-f]{8}$")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync(Path(folder) / name)
        _fsync(Path(folder))


def new_version_id(now: dt.datetime | None = None) -> str:
    """A version's name: its UTC time (sorts in publication order) and a random suffix."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def versions_folder(publish_folder: str | os.PathLike) -> Path:
    return Path(publish_folder) / VERSIONS_DIR / "versions"


def current_version(publish_folder: str | os.PathLike) -> Path | None:
    """The folder of the current version, or None before the first publication."""
    pointer = Path(publish_folder) / VERSIONS_DIR / CURRENT
    if not pointer.is_symlink():
        return None
    return (pointer.parent / os.readlink(pointer)).resolve()


def _symlink_atomically(link: Path, target: str) -> None:
    """Make `link` a symlink to `target`, replacing what is there in one rename."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    if link.is_dir() and not link.is_symlink():
        # A Parquet folder from before versioned publishing.
        parquet.replace_folder(temporary, link)
    else:
        os.replace(temporary, link)
    _fsync(link.parent)


def _reader_links(publish_folder: Path, published: Path | None) -> dict[Path, str]:
    """{reader path: symlink text} of the fixed reader paths."""
    through = Path(VERSIONS_DIR) / CURRENT
    links = {
        publish_folder / PARQUET: str(through / PARQUET),
        publish_folder / DASHBOARD: str(through / DASHBOARD),
    }
    database = published if published is not None else publish_folder / DATABASE
    if database.parent.resolve() == publish_folder.resolve():
        links[database] = str(through / DATABASE)
    else:  # MEALYTICS_PUBLISHED outside the publish folder
        links[database] = str(publish_folder.resolve() / through / DATABASE)
    return links


def _previous(folder: Path) -> tuple[Path | None, dict]:
    """The current version's folder and the Parquet files its version.json records (none
    from a version before fingerprints)."""
    current = current_version(folder)
    if current is None:
        return None, {}
    try:
        recorded = json.loads((current / MANIFEST_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None, {}
    return current, recorded.get(PARQUET, {})


def _publish_marts(
    con, building: Path, final: Path, previous: tuple[Path | None, dict], storage_version: str
) -> tuple[list[parquet.Mart], dict]:
    """The build's marts into the version being built: Parquet (unchanged files linked from
    the previous version), then the catalog over them. The catalog's views name the files
    at their final place, `final` (a symlink to `building` meanwhile: DuckDB checks a view's
    files when it is created)."""
    con.execute("checkpoint")
    marts = parquet.measure_marts(con)
    earlier, before = previous
    files = parquet.write_parquet(
        con, marts, building / PARQUET, earlier / PARQUET if earlier else None, before
    )
    os.symlink(building.name, final)
    views = {
        mart.name: view_sql(
            con, mart.reader_glob(final / PARQUET), mart.columns, mart.partitioned
        )
        for mart in marts
    }
    write_catalog(
        con,
        building / DATABASE,
        views,
        [(mart.name, mart.rows, mart.money) for mart in marts],
        storage_version,
    )
    return marts, files


def _version_record(version: str, details: dict | None, marts, files: dict, database: Path):
    linked = sorted(path for path, f in files.items() if f["action"] != "written")
    return {
        "version": version,
        "published_at": dt.datetime.now(dt.UTC).isoformat(),
        **(details or {}),
        "marts": len(marts),
        "rows_per_mart": {mart.name: mart.rows for mart in marts},
        "database_bytes": database.stat().st_size,
        "parquet_written": sorted(set(files) - set(linked)),
        "parquet_linked": linked,
        PARQUET: files,
    }


def _build(
    warehouse_path, folder: Path, building: Path, final: Path, version: str, options: dict
) -> dict:
    """Everything of a new version into `building`; its version.json record."""
    previous = _previous(folder)
    con = connect_waiting(warehouse_path, wait_s=options["wait_s"])
    try:
        con.execute(f"SET memory_limit = '{duck.WORK_MEMORY_LIMIT}'")
        marts, files = _publish_marts(
            con, building, final, previous, options["storage_version"]
        )
    finally:
        con.close()
    # The dashboard reads the catalog, as every reader does: the same marts, and proof that
    # its views read.
    write_dashboard(final / DATABASE, building / DASHBOARD)
    record = _version_record(version, options["details"], marts, files, building / DATABASE)
    (building / MANIFEST_FILE).write_text(json.dumps(record, indent=2, default=str))
    _fsync_tree(building)
    return record


def _prune(versions: Path, keep: set[str]) -> tuple[list[str], list[str]]:
    """Delete the versions not in `keep` that no reader holds: (removed, spared). A killed
    publisher's stand-in symlink (see `_publish_marts`) goes too."""
    removed, spared = [], []
    for path in sorted(versions.iterdir()):
        if not _VERSION.match(path.name):
            continue
        if path.is_symlink():
            if not path.exists():  # its publisher is gone, and its folder swept
                path.unlink()
            continue
        if path.name in keep:
            continue
        if holders.holder(path / DATABASE) is not None:
            spared.append(path.name)  # pruned by a later publication, once it is let go
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed, spared


def publish_version(
    warehouse_path: str | os.PathLike,
    publish_folder: str | os.PathLike,
    *,
    published: str | os.PathLike | None = None,
    details: dict | None = None,
    keep: int = KEEP_VERSIONS,
    wait_s: float = LOCK_WAIT_S,
    storage_version: str = PUBLISHED_STORAGE_VERSION,
) -> dict:
    """Build a new version from the build file and make it current, or change nothing.

    `published` is the reader path of the DuckDB catalog (`MEALYTICS_PUBLISHED`; default
    `published.duckdb` in the publish folder); `details` go into version.json (run id,
    as_of). Returns version.json's content plus `path` (the version's folder) and `spared`
    (older versions kept because a reader holds them).
    """
    folder = Path(publish_folder)
    versions = versions_folder(folder)
    versions.mkdir(parents=True, exist_ok=True)
    leftovers.sweep(versions)
    version = new_version_id()
    building = versions / f".{version}.{os.getpid()}.tmp"
    # Absolute (the catalog's views name their files by absolute path: DuckDB resolves a
    # relative one against the reader's working directory), the last part not resolved.
    final = versions.resolve() / version
    options = {"wait_s": wait_s, "storage_version": storage_version, "details": details}
    umask = os.umask(0o077)
    try:
        building.mkdir(mode=0o700)
        record = _build(warehouse_path, folder, building, final, version, options)
        final.unlink()  # the stand-in symlink
        os.replace(building, final)
        _fsync(versions)
    finally:
        os.umask(umask)
        if final.is_symlink():
            final.unlink()
        shutil.rmtree(building, ignore_errors=True)
    # The switch: everything above is invisible to readers until this one rename.
    _symlink_atomically(folder / VERSIONS_DIR / CURRENT, str(Path("versions") / version))
    published_path = Path(published) if published is not None else None
    for link, target in _reader_links(folder, published_path).items():
        link.parent.mkdir(parents=True, exist_ok=True)
        _symlink_atomically(link, target)
    names = sorted(
        p.name for p in versions.iterdir() if _VERSION.match(p.name) and not p.is_symlink()
    )
    _, spared = _prune(versions, set(names[-max(keep, 1):]) | {version})
    return {**record, "path": str(final), "spared": spared}
