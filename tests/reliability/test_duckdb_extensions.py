"""DuckDB never loads nor downloads an extension behind our back (issue 15, item 4).

Opening a SQLite file through DuckDB made it try to download the `sqlite` extension. Every
place the project opens DuckDB (pipelines/duck.py, dbt's profile, duckdb_engine) turns
extension autoloading and autoinstalling off; these tests read every call in the code and
prove, on real connections, that nothing is loaded or fetched.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import duckdb
import pytest
import yaml
from dbt_helpers import run_dbt

from pipelines import duck

ROOT = Path(__file__).resolve().parents[2]
#: Where the product and its scripts live (tests wrap duckdb.connect in conftest.py).
CODE = ("pipelines", "seeds", "models", "benchmarks", "scripts")
#: Extensions built into the library itself: always "loaded", never fetched.
BUILT_IN = "install_mode = 'STATICALLY_LINKED'"


def _calls() -> list[tuple[str, int, str]]:
    """(file, line, source) of every `duckdb.connect(...)` and `create_engine("duckdb…")`."""
    found = []
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            for node in ast.walk(ast.parse(text)):
                if not isinstance(node, ast.Call):
                    continue
                source = ast.get_source_segment(text, node) or ""
                func = ast.get_source_segment(text, node.func) or ""
                if func.endswith("duckdb.connect") or (
                    func.endswith("create_engine") and "duckdb:" in source
                ):
                    found.append((str(path.relative_to(ROOT)), node.lineno, source))
    return found


def test_every_duckdb_connection_in_the_code_turns_extensions_off():
    calls = _calls()
    direct = [(f, n) for f, n, s in calls if "duckdb.connect" in s]
    # The one direct call is the helper's; everything else goes through it.
    assert [f for f, _ in direct] == ["pipelines/duck.py"], direct
    engines = [(f, n, s) for f, n, s in calls if "create_engine" in s]
    assert len(engines) >= 1  # the raw quality checks' duckdb_engine
    assert [(f, n) for f, n, s in engines if "NO_EXTENSIONS" not in s] == []
    assert duck.NO_EXTENSIONS == {
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
    }


def test_dbt_profile_turns_extensions_off():
    profile = yaml.safe_load((ROOT / "dbt_project" / "profiles.yml").read_text())
    for name, output in profile["mealytics"]["outputs"].items():
        if output["type"] != "duckdb":
            continue
        settings = output["settings"]
        assert settings["autoload_known_extensions"] is False, name
        assert settings["autoinstall_known_extensions"] is False, name


def test_a_sqlite_file_opened_as_a_warehouse_fetches_nothing(tmp_path):
    """The failing case: DuckDB recognises a SQLite file and reaches for its extension."""
    source = tmp_path / "operational.db"
    db = sqlite3.connect(source)
    db.execute("create table t (a integer)")
    db.commit()
    db.close()
    extensions = tmp_path / "extensions"
    with pytest.raises(duckdb.Error) as caught:
        duck.connect(source, config={"extension_directory": str(extensions)})
    message = str(caught.value)
    assert "sqlite" in message.lower()
    assert "download" not in message.lower() and "http" not in message.lower(), message
    assert not extensions.exists() or list(extensions.rglob("*")) == []


def test_no_extension_is_loaded_by_the_warehouse_or_dbt(built_warehouse, tmp_path):
    con = duck.connect(built_warehouse, read_only=True)
    try:
        settings = con.execute(
            "select current_setting('autoload_known_extensions'), "
            "current_setting('autoinstall_known_extensions')"
        ).fetchone()
        # What a warehouse session does: read marts, write Parquet (a built-in extension).
        con.execute("select count(*) from marts.fct_daily_snapshot").fetchone()
        con.execute(f"copy (select 1 as a) to '{tmp_path / 'p.parquet'}' (format parquet)")
        loaded = con.execute(
            f"select extension_name from duckdb_extensions() where loaded and not ({BUILT_IN})"
        ).fetchall()
    finally:
        con.close()
    assert settings == (False, False)
    assert loaded == []
    # dbt's own connection, through the profile.
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(built_warehouse.read_bytes())
    shown = run_dbt(
        copy,
        "show",
        "--inline",
        "select current_setting('autoload_known_extensions') as autoload, "
        "current_setting('autoinstall_known_extensions') as autoinstall, "
        f"(select count(*) from duckdb_extensions() where loaded and not ({BUILT_IN})) "
        "as loaded",
        "--output",
        "json",
    )
    assert shown.returncode == 0, shown.stdout[-2000:]
    assert '"autoload": false' in shown.stdout and '"autoinstall": false' in shown.stdout
    assert '"loaded": 0' in shown.stdout
