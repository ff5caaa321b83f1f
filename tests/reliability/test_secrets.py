"""No source password leaves the process, whatever characters it has (issue 15, item 4).

Each reader (ADBC and the portable SQLAlchemy one) is pointed at a PostgreSQL URL whose
password holds one character class that drivers and URL parsers treat specially, at a
port where no server listens, so every layer fails and reports: the reader's connect, the
code location's reflection (its fallback logs the error), the Dagster step. What leaves
the process is scanned for every form of the password (as written in the URL, decoded,
percent-encoded): captured stdout/stderr, every log record, the step's event records in
Dagster's storage (messages and serialized errors). The last test runs the real
`mealytics run` and scans its console, its run log, the Dagster instance's files and the
warehouse's folder byte by byte.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote, quote_plus

import dagster as dg
import pytest
import sqlalchemy as sa

import seeds
from pipelines.defs.raw import build_raw_defs
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.extract import Source

ROOT = Path(__file__).resolve().parents[2]
MEALYTICS = ROOT / ".venv" / "bin" / "mealytics"

#: class → (password as written in the URL's user part, the password it means)
PASSWORDS = {
    "space": ("Secret with spaces", "Secret with spaces"),
    "quote": ("Secret'quo\"ted", "Secret'quo\"ted"),
    "backslash": ("Secret\\back\\slash", "Secret\\back\\slash"),
    "at": (quote("Secret@at@sign", safe=""), "Secret@at@sign"),
    "colon": ("Secret:co:lon", "Secret:co:lon"),
    "slash": (quote("Secret/sl/ash", safe=""), "Secret/sl/ash"),
    "percent": (quote("Secret%per%cent", safe=""), "Secret%per%cent"),
    "non_ascii": ("Sécrèt-nön-äscii-密码", "Sécrèt-nön-äscii-密码"),
    "percent_encoded": ("Secret%20enc%2Foded%3A", "Secret enc/oded:"),
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _url(written: str, port: int) -> str:
    return f"postgresql://mealytics:{written}@127.0.0.1:{port}/shop"


def _forms(written: str, password: str) -> set[str]:
    """Every form a leak could take."""
    return {
        f
        for p in (written, password)
        for f in (p, quote(p, safe=""), quote_plus(p), quote(p))
        if len(f) > 6
    }


def _leaks(text: str, forms: set[str]) -> list[str]:
    return sorted(f for f in forms if f in text)


@pytest.mark.parametrize("reader", ["adbc", "sqlalchemy"])
@pytest.mark.parametrize("char_class", sorted(PASSWORDS))
def test_a_password_reaches_no_error_log_or_event(
    reader, char_class, tmp_path, caplog, capfd
):
    written, password = PASSWORDS[char_class]
    url = _url(written, _closed_port())
    assert sa.make_url(url).password == password  # the URL means what the test says
    forms = _forms(written, password)
    caplog.set_level(logging.DEBUG)

    # The reader's own connect, as the extraction's retry sees it.
    source = Source(url, reader=reader)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any failure to connect
        with source.connected(), source.session():
            pass
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(f"{type(exc).__name__}: {exc!s} {exc.args!r}")
        exc = exc.__cause__ or exc.__context__
    assert len(chain) >= 1
    assert _leaks("\n".join(chain), forms) == []

    # The code location (reflection falls back, logging why) and a Dagster step.
    resources = {
        "source": SourceDatabase(url=url, reader=reader),
        "warehouse": Warehouse(path=str(tmp_path / "w.duckdb")),
    }
    defs = build_raw_defs(url, resources=resources)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        defs.assets,
        resources=resources,
        instance=instance,
        selection=[dg.AssetKey(["raw", "accounts_website"])],
        # One quick retry: a retry logs the error too.
        run_config={"ops": {"raw_tables": {"config": {"retries": 1, "retry_pause_s": 0.01}}}},
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1
    error = failures[0].step_failure_data.error
    stored = "\n".join(
        f"{e.user_message}\n{e.dagster_event!r}" for e in instance.all_logs(result.run_id)
    )
    assert "unavailable" in stored  # the error itself is there, only masked
    out, err = capfd.readouterr()
    assert _leaks(error.to_string(), forms) == []
    assert _leaks(stored, forms) == []
    assert _leaks(caplog.text, forms) == []
    assert _leaks(out + err, forms) == []


def test_mealytics_run_leaks_no_password_to_console_log_storage_or_warehouse(
    postgres_url, tmp_path
):
    """The failing case of the issue: a password with a space, the fast (ADBC) reader, a
    reachable server (loopback trust authentication: the password is handed to every layer
    and ignored by the server). libpq refused the unencoded space quoting the password in
    full, into the console, the run log and Dagster's storage; now the password is encoded
    for libpq, the run succeeds, and nothing it writes carries the password."""
    seeds.generate(postgres_url, customers=20, days=3, seed=2, start="2026-10-10")
    written, password = PASSWORDS["space"]
    forms = _forms(written, password)
    url = sa.make_url(postgres_url).set(password=password)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEALYTICS_")},
        "MEALYTICS_SOURCE_URL": url.render_as_string(hide_password=False),
        "MEALYTICS_WAREHOUSE": str(warehouse),
        "MEALYTICS_CONTENT_CHECK_EVERY": "0",
        "DAGSTER_HOME": str(home),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    assert password in env["MEALYTICS_SOURCE_URL"]
    done = subprocess.run(
        [str(MEALYTICS), "-q", "run", "--as-of", "2026-10-12"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    console = done.stdout + done.stderr
    assert _leaks(console, forms) == []
    written_files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in written_files)  # the run's own log
    assert any(p.name.endswith(".db") for p in home.rglob("*"))  # Dagster's storage
    assert warehouse.is_file()
    leaks = {
        str(p.relative_to(tmp_path)): found
        for p in written_files
        if (found := [f for f in forms if f.encode() in p.read_bytes()])
    }
    assert leaks == {}
    assert done.returncode == 0, console[-3000:]
