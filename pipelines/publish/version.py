"""One publication, all or nothing: the published DuckDB, Parquet and dashboard of one build,
switched in together by one atomic rename.

Every publication is a version, a folder of its own under `<publish dir>/publish/versions/`:

    publish/versions/20261207T020412Z-3f9c2a1b/
        published.duckdb      the warehouse copy readers open (`publish_warehouse`)
        parquet/<mart>.parquet  every mart, exported from that copy
        dashboard.html        the static dashboard, rendered from that copy
        version.json          what the version holds: rows per mart, run, as_of, time

It is built under a temporary name (`.<id>.<pid>.tmp`), fsynced, renamed to its id, and then
made current by ONE atomic rename: the symlink `publish/current` is replaced by a new symlink
to the new version. The paths readers use are fixed symlinks through `current`, created once:

    published.duckdb -> publish/current/published.duckdb   (or MEALYTICS_PUBLISHED)
    parquet          -> publish/current/parquet
    dashboard.html   -> publish/current/dashboard.html

So the three outputs always come from the same build: a failure anywhere before the switch
(a killed process, a full disk, a refused publication) leaves `current`, hence every reader
path, on the previous version, whole. A reader that opened a file keeps reading that complete
old version until it reopens (its inode lives until it closes, even once the version folder
is pruned); the last `KEEP_VERSIONS` versions are kept for readers that list `parquet/` and
open files one by one. A reader that needs several files of one version resolves
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

from pipelines.extract.warehouse import LOCK_WAIT_S
from pipelines.publish import leftovers
from pipelines.publish.dashboard import write_dashboard
from pipelines.publish.parquet import export_parquet
from pipelines.publish.warehouse import PUBLISHED_STORAGE_VERSION, publish_warehouse

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
        # A Parquet folder from before versioned publishing: a symlink cannot be renamed
        # over a folder, so the folder moves aside first (and is deleted after).
        aside = link.with_name(f".{link.name}.old.{os.getpid()}.tmp")
        os.replace(link, aside)
        os.replace(temporary, link)
        shutil.rmtree(aside, ignore_errors=True)
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


def _prune(versions: Path, keep: set[str]) -> list[str]:
    removed = []
    for path in sorted(versions.iterdir()):
        if _VERSION.match(path.name) and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


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

    `published` is the reader path of the DuckDB copy (`MEALYTICS_PUBLISHED`; default
    `published.duckdb` in the publish folder); `details` go into version.json (run id,
    as_of). Returns version.json's content plus `path` (the version's folder).
    """
    folder = Path(publish_folder)
    versions = versions_folder(folder)
    versions.mkdir(parents=True, exist_ok=True)
    leftovers.sweep(versions)
    version = new_version_id()
    building = versions / f".{version}.{os.getpid()}.tmp"
    try:
        building.mkdir(mode=0o700)
        database = building / DATABASE
        copy = publish_warehouse(warehouse_path, database, wait_s=wait_s,
                                 storage_version=storage_version)
        # Parquet and dashboard come from the copy, not the build file: one set of marts.
        rows = export_parquet(database, building / PARQUET)
        write_dashboard(database, building / DASHBOARD)
        manifest = {
            "version": version,
            "published_at": dt.datetime.now(dt.UTC).isoformat(),
            **(details or {}),
            "marts": copy["marts"],
            "rows_per_mart": rows,
            "database_bytes": copy["bytes"],
        }
        (building / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str))
        _fsync_tree(building)
        final = versions / version
        os.replace(building, final)
        _fsync(versions)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    # The switch: everything above is invisible to readers until this one rename.
    _symlink_atomically(folder / VERSIONS_DIR / CURRENT, str(Path("versions") / version))
    published_path = Path(published) if published is not None else None
    for link, target in _reader_links(folder, published_path).items():
        link.parent.mkdir(parents=True, exist_ok=True)
        _symlink_atomically(link, target)
    previous = sorted(p.name for p in versions.iterdir() if _VERSION.match(p.name))
    _prune(versions, set(previous[-max(keep, 1):]) | {version})
    return {**manifest, "path": str(final)}
