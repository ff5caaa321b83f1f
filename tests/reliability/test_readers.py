"""Readers during writes: analysts read the published copy while runs publish new ones.

A real second process holds a read-only connection to the published file and queries it
in a loop (re-opening it now and then, as a BI tool's pool does). Every snapshot it sees
must be complete: each mart's row count and Σ money equal the manifest written into the
same file at publish time. Meanwhile the writer publishes new versions again and again,
and the Dagster `publish/warehouse` asset completes while the reader holds the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.publish import WAREHOUSE_KEY, build_publish_assets
from pipelines.defs.resources import Warehouse
from pipelines.publish.version import publish_version
from pipelines.publish.warehouse import WarehouseBusyError, publish_warehouse

ROOT = Path(__file__).resolve().parents[2]

#: The readers' check: every mart of the version the connection `con` reads against that
#: version's manifest (rows and Σ money); the marts that differ.
CHECK = textwrap.dedent(
    """
    def check_marts(con):
        bad = []
        manifest = con.execute("select mart, row_count, money_sum from publish.manifest")
        for mart, rows, money in manifest.fetchall():
            money_cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = "
                "'marts' and table_name = ? and data_type like 'DECIMAL%'", [mart]).fetchall()]
            total = " + ".join(f'coalesce(sum("{c}"), 0)' for c in money_cols) or "0"
            got = con.execute(
                f'select count(*), cast({total} as decimal(38, 4)) from marts."{mart}"'
            ).fetchone()
            if got != (rows, money):
                bad.append([mart, str(got), str((rows, money))])
        return bad
    """
)

READER = CHECK + textwrap.dedent(
    """
    import json, sys, time
    import duckdb

    path, seconds = sys.argv[1], float(sys.argv[2])
    seen, bad, versions = 0, [], set()
    end = time.monotonic() + seconds
    con = duckdb.connect(path, read_only=True)
    print("open", flush=True)
    while time.monotonic() < end:
        bad += check_marts(con)
        (published_at,) = con.execute("select max(published_at) from publish.manifest").fetchone()
        versions.add(str(published_at))
        seen += 1
        if seen % 3 == 0:  # a new connection sees the newest published file
            con.close()
            con = duckdb.connect(path, read_only=True)
    print(json.dumps({"snapshots": seen, "bad": bad, "versions": len(versions)}), flush=True)
    """
)


def _start_reader(path: Path, seconds: float) -> subprocess.Popen:
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    line = reader.stdout.readline().strip()
    assert line == "open", reader.communicate(timeout=30)[1][-2000:]
    return reader


def _finish(reader: subprocess.Popen) -> dict:
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_reader_always_sees_a_complete_version(two_builds, tmp_path):
    first, second = two_builds
    published = tmp_path / "pub" / "published.duckdb"
    publish_warehouse(first, published)
    reader = _start_reader(published, seconds=8)
    publishes = 0
    deadline = time.monotonic() + 7
    while time.monotonic() < deadline:
        publish_warehouse(second if publishes % 2 == 0 else first, published)
        publishes += 1
    report = _finish(reader)
    assert publishes >= 3
    assert report["bad"] == []
    assert report["snapshots"] >= 3
    assert report["versions"] >= 2  # it did see new versions as they were published
    assert os.stat(published).st_mode & 0o777 == 0o600


def test_reader_of_the_published_path_keeps_its_version_while_versions_switch(
    two_builds, tmp_path
):
    """Versioned publishing (issue 15): the reader opens `published.duckdb` (a symlink
    through `publish/current`) while whole versions are switched in and the old ones pruned
    under it; every snapshot it sees is complete, and it sees new versions on reconnecting.

    The default two versions are kept: a reader that resolved `current` to the version just
    switched out can still open it (with one version kept, a publication landing between the
    reader's resolving the symlink and opening the file would prune what it is opening)."""
    first, second = two_builds
    out = tmp_path / "out"
    publish_version(first, out)
    reader = _start_reader(out / "published.duckdb", seconds=8)
    publishes = 0
    deadline = time.monotonic() + 7
    while time.monotonic() < deadline:
        publish_version(second if publishes % 2 == 0 else first, out)
        publishes += 1
    report = _finish(reader)
    assert publishes >= 3
    assert report["bad"] == []
    assert report["snapshots"] >= 3
    assert report["versions"] >= 2
    # A version the reader still held at the last publication was spared (issue 16.3: its
    # views read its Parquet files); the next publication, the reader gone, prunes it.
    publish_version(first, out)
    # The current version and the one before it are left, and every reader path leads into
    # the newest.
    previous, version = sorted((out / "publish" / "versions").iterdir())
    assert previous.name < version.name
    assert os.path.realpath(out / "published.duckdb") == str(version / "published.duckdb")
    assert os.path.realpath(out / "parquet") == str(version / "parquet")
    assert os.path.realpath(out / "dashboard.html") == str(version / "dashboard.html")
    assert os.stat(out / "published.duckdb").st_mode & 0o777 == 0o600


def test_the_publish_asset_completes_while_a_reader_holds_the_file(two_builds, tmp_path):
    first, _ = two_builds
    out = tmp_path / "out"
    publish_warehouse(first, out / "published.duckdb")
    reader = _start_reader(out / "published.duckdb", seconds=4)
    assets = build_publish_assets([dg.AssetKey(["marts", "fct_daily_snapshot"])])
    result = dg.materialize(
        [a for a in assets if WAREHOUSE_KEY in a.keys],
        resources={"warehouse": Warehouse(path=str(first), publish_dir=str(out))},
    )
    assert result.success
    assert _finish(reader)["bad"] == []


def test_a_reader_on_the_build_file_gives_a_clear_bounded_error(two_builds, tmp_path):
    """Someone opened the build file itself: publishing waits, then names the holder."""
    first, _ = two_builds
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); time.sleep(30)",
            str(first),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        began = time.monotonic()
        with pytest.raises(WarehouseBusyError) as caught:
            publish_warehouse(first, tmp_path / "published.duckdb", wait_s=1.5)
        assert time.monotonic() - began < 10
        assert str(holder.pid) in str(caught.value)
        assert not (tmp_path / "published.duckdb").exists()
    finally:
        holder.kill()
        holder.wait()


HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
    "print('open', flush=True); time.sleep(float(sys.argv[2]))"
)


@pytest.mark.parametrize("held_s", [1.0, 30.0], ids=["lets-go-in-time", "holds-on"])
def test_a_reader_on_the_build_file_during_extraction(
    held_s, small_source_file, built_warehouse, tmp_path, monkeypatch
):
    """A stray reader holds the build file: the run waits for it (bounded), then either
    loads or fails with one clear error naming the reader's PID, writing nothing."""
    from pipelines.extract import extract_all
    from pipelines.extract import warehouse as wh

    monkeypatch.setattr(wh, "LOCK_WAIT_S", 4.0)
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(built_warehouse, warehouse)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse), str(held_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        began = time.monotonic()
        if held_s < 4:
            assert extract_all(f"sqlite:///{small_source_file}", str(warehouse)).ok
        else:
            with pytest.raises(wh.WarehouseLockedError) as caught:
                extract_all(f"sqlite:///{small_source_file}", str(warehouse))
            assert str(holder.pid) in str(caught.value)
            assert "published copy" in str(caught.value)
        assert time.monotonic() - began < 15
    finally:
        holder.kill()
        holder.wait()


# --- readers keep their version until they let go (issue 16.3) ------------------------------

#: A reader that holds `published.duckdb` open and, for each line on stdin, checks every mart
#: of its version against that version's manifest again; it lets go at EOF.
HOLDING_READER = CHECK + textwrap.dedent(
    """
    import json, sys
    import duckdb

    con = duckdb.connect(sys.argv[1], read_only=True)

    def check():
        return {"bad": check_marts(con)}

    print(json.dumps(check()), flush=True)
    for _ in sys.stdin:
        try:
            print(json.dumps(check()), flush=True)
        except duckdb.Error as exc:
            print(json.dumps({"error": str(exc).splitlines()[0]}), flush=True)
    """
)


@pytest.mark.parametrize("probe", [True, False], ids=["pruning-asks", "pruning-blind"])
def test_a_version_a_reader_holds_is_pruned_only_once_it_lets_go(
    probe, two_builds, tmp_path, monkeypatch
):
    """A real second process holds `published.duckdb` of the first version while three more
    are published: the first is spared (its views read its own Parquet files), the reader's
    next query still finds that whole version, and the publication after the reader lets go
    prunes it. Without the probe (`pruning-blind`, as before it existed) the version is
    deleted under the reader and its next query fails."""
    from pipelines.publish import holders

    if not probe:
        monkeypatch.setattr(holders, "holder", lambda path: None)
    first, second = two_builds
    out = tmp_path / "out"
    held = Path(publish_version(first, out)["path"])
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLDING_READER, str(out / "published.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert json.loads(reader.stdout.readline()) == {"bad": []}, reader.stderr.read()
        spared = [publish_version(build, out)["spared"] for build in (second, first, second)]
        reader.stdin.write("again\n")
        reader.stdin.flush()
        again = json.loads(reader.stdout.readline())
        if not probe:
            assert not held.exists() and "error" in again, again
            return
        assert spared == [[], [held.name], [held.name]]
        assert held.is_dir() and again == {"bad": []}
        reader.stdin.close()
        assert reader.wait(timeout=30) == 0, reader.stderr.read()
        after = publish_version(first, out)
        assert after["spared"] == [] and not held.exists()
        assert len(list((out / "publish" / "versions").iterdir())) == 2
    finally:
        reader.kill()
        reader.wait()


def _hold_python(path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), "30"], stdout=subprocess.PIPE, text=True
    )


def _hold_cli(path: Path) -> subprocess.Popen:
    """PyPI's duckdb-cli (DuckDB 1.5), waiting for its commands on stdin."""
    cli = Path(sys.executable).with_name("duckdb")
    if not cli.exists():
        pytest.skip("no duckdb CLI (pip install duckdb-cli, in the dev extra)")
    return subprocess.Popen(
        [str(cli), "-readonly", str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


def _hold_sqlalchemy(path: Path) -> subprocess.Popen:
    code = (
        "import sqlalchemy as sa, sys, time; "
        "e = sa.create_engine(f'duckdb:///{sys.argv[1]}', connect_args={'read_only': True}); "
        "c = e.connect(); c.execute(sa.text('select 1')); print('open', flush=True); "
        "time.sleep(30)"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )


def _parent(pid: int | None) -> int | None:
    if pid is None or pid <= 0:
        return None
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.parametrize("hold", [_hold_python, _hold_cli, _hold_sqlalchemy],
                         ids=["duckdb-python", "duckdb-cli", "sqlalchemy"])
def test_the_probe_sees_a_reader_of_each_kind(hold, two_builds, tmp_path):
    """DuckDB's read-only connection holds a POSIX read lock on the file while it is open,
    in the Python package, PyPI's CLI and SQLAlchemy's dialect alike: the probe names the
    reader's PID while it is connected, and nobody once it has gone."""
    from pipelines.publish import holders

    first, _ = two_builds
    out = tmp_path / "out"
    database = Path(publish_version(first, out)["path"]) / "published.duckdb"
    assert holders.holder(database) is None
    reader = hold(database)
    try:
        deadline = time.monotonic() + 20
        while holders.holder(database) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        # (PyPI's `duckdb` is a launcher: the CLI itself may be its child.)
        assert reader.pid in {holders.holder(database), _parent(holders.holder(database))}
    finally:
        if reader.stdin:  # the CLI (and its launcher) end at the end of their input
            reader.stdin.close()
        else:
            reader.kill()
        reader.wait(timeout=30)
    assert holders.holder(database) is None


def test_the_probe_sees_a_reader_in_its_own_process_and_keeps_its_lock(two_builds, tmp_path):
    """POSIX drops every lock a process holds on a file when it closes any descriptor of it:
    the probe must not open a file its own process reads, or it would release that reader's
    lock and a later probe would prune under it."""
    import duckdb

    from pipelines.publish import holders

    first, _ = two_builds
    out = tmp_path / "out"
    database = Path(publish_version(first, out)["path"]) / "published.duckdb"
    probe = (
        "import sys; from pipelines.publish.holders import holder; print(holder(sys.argv[1]))"
    )
    con = duckdb.connect(str(database), read_only=True)
    try:
        assert holders.holder(database) == os.getpid()
        elsewhere = subprocess.run(
            [sys.executable, "-c", probe, str(database)], capture_output=True, text=True,
            cwd=ROOT, check=True,
        )
        assert elsewhere.stdout.strip() == str(os.getpid())  # this process still holds it
    finally:
        con.close()
    assert holders.holder(database) is None
