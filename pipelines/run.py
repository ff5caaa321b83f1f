"""`mealytics run`: every asset and check once, through Dagster, as the schedule does.

The run executes in this process (`execute_in_process` of the `all_assets` job) against the
instance in `DAGSTER_HOME` (default `dagster_home/`, so `make dev` shows the run), or an
ephemeral one. A listener on the run's events drives a live progress display; the closing
summary lists rows per raw table, the marts built, the checks and the duration.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.dbt_args import parse_as_of
from pipelines.errors import (
    DefinitionsError,
    InstanceStorageError,
    MealyticsError,
    WarehouseCorruptError,
)
from pipelines.publish.gate import CheckResult, refusal, warned
from pipelines.secrets import redact
from pipelines.settings import Settings

if TYPE_CHECKING:
    import dagster as dg
    from rich.console import Console

RAW_OP = "raw_tables"
DBT_OP = "dbt_models"
#: The step that publishes (`pipelines.defs.publish.PUBLISH_OP`) and its assets' prefix.
PUBLISH_OP = "publish"
PUBLISH_PREFIX = "publish/"


def run_config(
    *,
    full_refresh: bool = False,
    as_of: str | dt.date | None = None,
    log_level: str = "CRITICAL",
    confirm_deletes: tuple[str, ...] = (),
    today_so_far: bool = False,
) -> dict[str, Any]:
    """The run config of one run: full refresh reaches extraction and dbt, `as_of` dbt,
    `confirm_deletes` (tables, or "all") the extraction's mass-deletion guard.

    The console logger stays quiet: the progress display and the summary report the run,
    and every event is in the Dagster instance (and failures' tracebacks in the log file).
    """
    date = parse_as_of(as_of)
    raw: dict[str, Any] = {"full_refresh": full_refresh}
    if confirm_deletes:  # only when given: the stand-in jobs of tests take no such field
        raw["confirm_deletes"] = list(confirm_deletes)
    return {
        "ops": {
            RAW_OP: {"config": raw},
            DBT_OP: {
                "config": {
                    "full_refresh": full_refresh,
                    "as_of": date.isoformat() if date else None,
                    **({"today_so_far": True} if today_so_far else {}),
                }
            },
        },
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }


@dataclass
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str


@dataclass
class RunReport:
    """What a run did, gathered from its events."""

    run_id: str
    success: bool = False
    duration_s: float = 0.0
    #: raw table → (rows in raw after the run, rows inserted, updated, deleted by the run)
    raw: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    #: mart → rows (None for a table macro, or when the warehouse could not be read)
    marts: dict[str, int | None] = field(default_factory=dict)
    materialized: list[str] = field(default_factory=list)
    #: dbt assets the run did not rebuild: nothing they read changed since the last build
    #: (`pipelines.defs.dbt.changed`); they are in `materialized` too
    unchanged: list[str] = field(default_factory=list)
    #: every asset the run planned to materialize
    planned: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    #: (step, error) of each failed step
    failures: list[tuple[str, str]] = field(default_factory=list)
    run_error: str | None = None
    log_path: Path | None = None
    #: what readers open, written by this run's publish assets: label → path
    outputs: dict[str, Path] = field(default_factory=dict)
    #: why the run's own log could not be written (a full disk), if it could not
    log_error: OSError | None = None
    #: the signal (SIGINT, SIGTERM) that stopped the run, if one did
    interrupted: int | None = None

    @property
    def checks_failed(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed]

    @property
    def published(self) -> bool:
        """The run published a new version (its publish assets materialized)."""
        return any(name.startswith(PUBLISH_PREFIX) for name in self.materialized)

    @property
    def not_published(self) -> str | None:
        """Why a run that was to publish did not (one line, `gate.refusal`'s wording), or
        None: it published, or its job has no publish assets."""
        if self.published or not any(n.startswith(PUBLISH_PREFIX) for n in self.planned):
            return None
        if self.interrupted is not None:
            return "the run was interrupted"
        checks = [CheckResult(c.asset, c.check, c.passed, c.severity) for c in self.checks]
        reason = refusal(checks, [step for step, _ in self.failures if step != PUBLISH_OP])
        if reason is not None:
            return reason
        for step, error in self.failures:
            if step == PUBLISH_OP:
                first = (error.strip().splitlines() or ["failed"])[0]
                return first.removeprefix("not published: ") if "not published: " in first \
                    else f"publishing failed: {first}"
        return self.run_error or "the run did not reach publishing"

    @property
    def warned(self) -> list[CheckOutcome]:
        """Failed checks that did not stop publishing (WARN)."""
        keep = {(c.asset, c.check) for c in warned(
            CheckResult(c.asset, c.check, c.passed, c.severity) for c in self.checks
        )}
        return [c for c in self.checks if (c.asset, c.check) in keep]

    @property
    def exit_code(self) -> int:
        """1 on any failure: a failed run or step, or a failed check of ANY severity.

        A WARN check (e.g. raw's reconciliation with the source) does not stop the run, so
        its downstream assets are still built, but the command fails: a scheduler or CI
        only sees the exit code (issue 5). The summary names each failed check and severity.
        """
        failed = not self.success or self.failures or self.run_error or self.checks_failed
        return 1 if failed else 0


def _key(asset_key) -> str:
    return "/".join(asset_key.path)


class _Tracker:
    """Turns the run's event log entries into a RunReport and progress updates."""

    def __init__(self, report: RunReport, progress=None) -> None:
        self.report = report
        self.progress = progress
        self.planned_assets = 0
        self.planned_checks = 0
        self.tracebacks: list[str] = []
        self.assets_task = (
            progress.add_task("starting", total=None, label="assets") if progress else None
        )
        self.checks_task = progress.add_task("", total=None, label="checks") if progress else None

    def _update(self, **fields) -> None:
        if self.progress is not None:
            self.progress.update(self.assets_task, **fields)

    def __call__(self, entry) -> None:
        from dagster import DagsterEventType as T

        event = entry.dagster_event
        if event is None:
            return
        kind = event.event_type
        data = event.event_specific_data
        if kind == T.ASSET_MATERIALIZATION_PLANNED:
            self.planned_assets += 1
            self.report.planned.append(_key(data.asset_key))
            if self.progress:
                self.progress.update(self.assets_task, total=self.planned_assets)
        elif kind == T.ASSET_CHECK_EVALUATION_PLANNED:
            self.planned_checks += 1
            if self.progress:
                self.progress.update(self.checks_task, total=self.planned_checks)
        elif kind == T.STEP_START:
            label = {RAW_OP: "extracting the source into raw", DBT_OP: "dbt build"}.get(
                event.step_key, event.step_key
            )
            self._update(description=label)
        elif kind == T.ASSET_MATERIALIZATION:
            self._materialized(data.materialization)
        elif kind == T.ASSET_CHECK_EVALUATION:
            self._checked(data)
        elif kind == T.STEP_FAILURE:
            from pipelines.defs.sensors import step_error

            self.report.failures.append(
                (event.step_key or "?", redact(_before_traceback(step_error(event)).strip()))
            )
            error = getattr(data, "error", None)
            if error is not None:
                self.tracebacks.append(redact(f"step {event.step_key}:\n{error.to_string()}"))
            if self.progress:
                self.progress.console.print(f"[red]step failed:[/] {event.step_key}")
        elif kind == T.RUN_FAILURE:
            self.report.run_error = redact(event.message or "") or None


    def _materialized(self, materialization) -> None:
        name = _key(materialization.asset_key)
        self.report.materialized.append(name)
        md = materialization.metadata
        if "mealytics/unchanged" in md:
            self.report.unchanged.append(name)
        if materialization.asset_key.path[0] == "raw" and "dagster/row_count" in md:
            self.report.raw[materialization.asset_key.path[-1]] = tuple(
                int(md[k].value) if k in md else 0
                for k in ("dagster/row_count", "rows_inserted", "rows_updated", "rows_deleted")
            )
        if self.progress:
            self.progress.update(self.assets_task, advance=1, description=name)

    def _checked(self, data) -> None:
        outcome = CheckOutcome(
            asset=_key(data.asset_key),
            check=data.check_name,
            passed=bool(data.passed),
            severity=data.severity.value if data.severity else "ERROR",
        )
        self.report.checks.append(outcome)
        if self.progress:
            self.progress.update(self.checks_task, advance=1)
            if not outcome.passed:
                self.progress.console.print(
                    f"[yellow]check failed ({outcome.severity}):[/] "
                    f"{outcome.asset} {outcome.check}"
                )


def _before_traceback(message: str) -> str:
    """A step's error for the console: what precedes the first Python traceback in it
    (dbt's own errors, which dagster-dbt quotes, can carry one); the whole error, traceback
    included, is in the run's log file."""
    head, _, _ = message.partition("Traceback (most recent call last):")
    return head.rstrip() or message


def _event_log_override(home: Path) -> dict | None:
    """The instance's event log as `pipelines.dagster_storage.LocalEventLogStorage` (Dagster's
    SQLite event log without an engine per event), unless dagster.yaml names its storage."""
    import yaml

    try:
        config = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None  # Dagster reports what is wrong with the file
    if not isinstance(config, dict) or {"storage", "run_storage", "event_log_storage",
                                        "schedule_storage"} & set(config):
        return None
    return {
        "event_log_storage": {
            "module": "pipelines.dagster_storage",
            "class": "LocalEventLogStorage",
            "config": {"base_dir": str(home / "history" / "runs")},
        }
    }


def cli_instance(config: Settings | None = None) -> dg.DagsterInstance:
    """The instance of `DAGSTER_HOME` (default `dagster_home/`) if configured, else ephemeral;
    its SQLite event log stored without an engine per event (`pipelines.dagster_storage`)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    home = (config or Settings.from_env()).dagster_home.resolve()
    if not (home / "dagster.yaml").exists():
        return dg.DagsterInstance.ephemeral()
    try:
        instance = dg.DagsterInstance.from_ref(
            InstanceRef.from_dir(str(home), overrides=_event_log_override(home))
        )
        instance.get_runs(limit=1)  # reads the run storage: a damaged file fails here
    except Exception as exc:  # any storage fault: sqlite's, alembic's, yaml's
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InstanceStorageError(
            f"DAGSTER_HOME={home}: the Dagster instance's storage cannot be read ({reason}); "
            f"move {home / 'history'} and {home / 'storage'} aside (the run history is lost, "
            "the warehouse is untouched) or point DAGSTER_HOME to another folder"
        ) from None
    return instance


def check_warehouse(path: str | Path) -> None:
    """Raise `WarehouseCorruptError` unless `path` is missing (a first run creates it) or a
    DuckDB database that opens; a file held by another process is left to the run."""
    import duckdb

    from pipelines import duck

    path = Path(path)
    if not path.exists():
        return
    try:
        duck.connect(path, read_only=True).close()
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower():
            return
        reason = (text.strip().splitlines() or [type(exc).__name__])[0]
        raise WarehouseCorruptError(
            f"MEALYTICS_WAREHOUSE={path} cannot be opened as a DuckDB database ({reason}); "
            f"to rebuild it from the source, move it aside (mv {path} {path}.broken) and run "
            "`mealytics run --full-refresh`"
        ) from None


def _mart_rows(warehouse: str, marts: list[str]) -> dict[str, int | None]:
    import duckdb

    from pipelines import duck

    rows: dict[str, int | None] = dict.fromkeys(marts)
    try:
        con = duck.connect(warehouse, read_only=True)
    except duckdb.Error:
        return rows
    try:
        # Only tables and views have rows; a mart can also be a table macro (a function).
        relations = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        for mart in marts:
            if mart in relations:
                with contextlib.suppress(duckdb.Error):
                    rows[mart] = con.execute(f'select count(*) from marts."{mart}"').fetchone()[0]
    finally:
        con.close()
    return rows


class _LogSink:
    """The run's log file as stdout: a write that fails (a full disk) is dropped and
    remembered, never raised into the step that printed (the run goes on, the summary is
    printed, and the command names the file last)."""

    def __init__(self, file, report: RunReport) -> None:
        self.file = file
        self.report = report

    def write(self, text: str) -> int:
        if self.report.log_error is None:
            try:
                self.file.write(text)
            except OSError as exc:
                self.report.log_error = exc
        return len(text)

    def flush(self) -> None:
        if self.report.log_error is None:
            try:
                self.file.flush()
            except OSError as exc:
                self.report.log_error = exc

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _stdout_to(path: Path | None, report: RunReport) -> Iterator[None]:
    """dbt's own console output (dagster-dbt echoes it) goes to the run's log file."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below, errors kept
    try:
        with contextlib.redirect_stdout(_LogSink(log, report)):
            yield
    finally:
        try:
            log.close()
        except OSError as exc:
            report.log_error = report.log_error or exc


@contextlib.contextmanager
def _signals_seen(report: RunReport) -> Iterator[None]:
    """Which of SIGINT and SIGTERM arrived during the block, into `report.interrupted`.

    Dagster's in-process execution installs its own handlers for both (an interrupt
    stops the step at its next Python instruction, so a DuckDB statement finishes and
    its transaction rolls back) and does not say which signal it was; Python writes the
    number of every signal it handles to the wakeup fd, which Dagster leaves alone."""
    import signal
    import socket

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread: nothing to learn
        reader.close()
        writer.close()
        yield
        return
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        with contextlib.suppress(BlockingIOError):
            for number in reader.recv(1024):
                if number in (signal.SIGINT, signal.SIGTERM) and report.interrupted is None:
                    report.interrupted = number
        reader.close()
        writer.close()


class _UnchangedChecks:
    """Drops Dagster's warning for each blocking check of a dbt node the run left out as
    unchanged (`pipelines.defs.dbt.changed`): left out on purpose, and named in the summary."""

    def filter(self, record) -> bool:
        return "emitted no result in step 'dbt_models'" not in record.getMessage()


_UNCHANGED_FILTER = _UnchangedChecks()
logging.getLogger("dagster._core.execution.plan.active").addFilter(_UNCHANGED_FILTER)


def execute(
    *,
    full_refresh: bool = False,
    as_of: str | dt.date | None = None,
    defs: dg.Definitions | None = None,
    config: Settings | None = None,
    instance: dg.DagsterInstance | None = None,
    console: Console | None = None,
    progress: bool = True,
    log_path: Path | None = None,
    confirm_deletes: tuple[str, ...] = (),
    today_so_far: bool = False,
) -> RunReport:
    """Materialize every asset once and run every check; never raises for a failed step.

    `as_of` is the command line's (`--as-of`); without it the run resolves the date as a
    scheduled or UI run does, from the definitions' resources (`MEALYTICS_AS_OF`).
    """
    from dagster._core.utils import make_new_run_id

    from pipelines.defs.resources import Warehouse
    from pipelines.defs.schedules import ALL_ASSETS_JOB

    began = time.perf_counter()
    defs = defs if defs is not None else _definitions(config)
    _guard_as_of(as_of, defs)
    job = defs.resolve_job_def(ALL_ASSETS_JOB)
    instance = instance if instance is not None else cli_instance(config)
    report = RunReport(run_id=make_new_run_id(), log_path=log_path)
    tracker = _Tracker(report, _progress_display(console) if progress else None)
    instance.add_event_listener(report.run_id, tracker)
    resource = (defs.resources or {}).get("warehouse")
    # The run's `warehouse` resource takes the warehouse's lock too; taking it here first
    # says on the console whom this run waits for, and keeps the closing reads below in it.
    with _warehouse_locked(resource, report.run_id, console):
        if isinstance(resource, Warehouse):
            check_warehouse(resource.path)
        with (
            tracker.progress or contextlib.nullcontext(),
            _stdout_to(log_path, report),
            _signals_seen(report),
        ):
            result = job.execute_in_process(
                run_config=run_config(
                    full_refresh=full_refresh,
                    as_of=as_of,
                    confirm_deletes=confirm_deletes,
                    today_so_far=today_so_far,
                ),
                instance=instance,
                run_id=report.run_id,
                raise_on_error=False,
            )
        report.success = result.success
        _append_tracebacks(report, tracker.tracebacks)
        _read_outputs(report, resource)
    report.duration_s = time.perf_counter() - began
    return report


def _guard_as_of(as_of: str | dt.date | None, defs: dg.Definitions) -> None:
    """Refuse (`AsOfError`, before the run starts) an `as_of` outside [the source's first
    business date, tomorrow]: the command line's, else the definitions' (`MEALYTICS_AS_OF`)."""
    from pipelines.as_of import check_as_of, guard_source
    from pipelines.defs.resources import SourceDatabase, source_url_of

    resources = defs.resources or {}
    date = parse_as_of(as_of) or parse_as_of(getattr(resources.get("dbt"), "as_of", None))
    source = resources.get("source")
    if isinstance(source, SourceDatabase):
        guard_source(date, source_url_of(source))
    else:
        check_as_of(date, None)


def _definitions(config: Settings | None) -> dg.Definitions:
    from pipelines.definitions import build_definitions

    try:
        return build_definitions(config=config)
    except (MealyticsError, OSError):  # said in one line by the command line
        raise
    except Exception as exc:  # a broken dbt project or resource config: say so, briefly
        raise DefinitionsError(
            redact(f"the pipeline's definitions do not load: {exc}")
        ) from exc


def _progress_display(console: Console | None):
    """The live progress bars of `mealytics run` (None without a console)."""
    if console is None:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.fields[label]:<7}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.description}"),
        console=console,
        transient=True,
    )


def _append_tracebacks(report: RunReport, tracebacks: list[str]) -> None:
    """The failed steps' tracebacks, after dbt's output in the run's log. A log that cannot
    be written (a full disk) is noted in the report: the summary is still printed."""
    if report.log_path is None or not tracebacks:
        return
    try:
        with open(report.log_path, "a", encoding="utf-8") as log:
            log.write("\n\n".join(["", *tracebacks]))
    except OSError as exc:
        report.log_error = exc


def _read_outputs(report: RunReport, resource) -> None:
    """The marts' row counts and the published files, for the closing summary."""
    from pipelines.defs.resources import Warehouse

    if not isinstance(resource, Warehouse):
        return
    marts = sorted(
        name.split("/", 1)[1] for name in report.materialized if name.startswith("marts/")
    )
    if resource.lake:  # the spark target: Spark's marts in the lake
        from pipelines.publish.spark import mart_rows

        report.marts = mart_rows(resource.lake, marts)
    else:
        report.marts = _mart_rows(str(resource.path), marts)
    report.outputs = _published_outputs(resource, report.materialized)


def _warehouse_locked(
    resource, run_id: str, console: Console | None
) -> contextlib.AbstractContextManager:
    """The warehouse's lock (`pipelines.warehouse_lock`) for `mealytics run`'s whole run."""
    from rich.markup import escape

    from pipelines.defs.resources import Warehouse
    from pipelines.warehouse_lock import warehouse_lock

    if not isinstance(resource, Warehouse):
        return contextlib.nullcontext()
    return warehouse_lock(
        resource.path,
        owner=f"run {run_id} (mealytics run)",
        timeout_s=resource.lock_timeout_s,
        log=(lambda line: console.print(f"[yellow]{escape(line)}[/]", highlight=False))
        if console is not None
        else None,
    )


def _published_outputs(warehouse, materialized: list[str]) -> dict[str, Path]:
    """The files this run's publish assets wrote, for the summary's last lines."""
    out = warehouse.publish_folder
    candidates = {
        "publish/warehouse": ("published warehouse", warehouse.published_file),
        "publish/dashboard": ("dashboard", out / "dashboard.html"),
        "publish/parquet": ("parquet", out / "parquet"),
    }
    return {label: path for key, (label, path) in candidates.items() if key in materialized}


def print_summary(report: RunReport, console: Console) -> None:
    """The closing summary: raw rows, marts, checks, failures, duration."""
    from pipelines.defs.sensors import failure_report

    _print_tables(report, console)
    _print_unchanged(report, console)
    failed = report.checks_failed
    passed = len(report.checks) - len(failed)
    console.print(
        f"checks: [green]{passed} passed[/], "
        + (f"[red]{len(failed)} failed[/]" if failed else "0 failed")
    )
    for check in failed:
        console.print(f"  [red]✗[/] {check.asset} {check.check} ({check.severity})")
    if report.interrupted is not None:
        steps = ", ".join(step for step, _ in report.failures) or "the run"
        console.print(
            f"run {report.run_id[:8]} interrupted by {signal.Signals(report.interrupted).name}"
            f" in {steps}: its current statement rolled back",
            style="red",
            markup=False,
            highlight=False,
        )
    elif report.failures or not report.success:
        console.print(
            failure_report(
                job_name="all_assets",
                run_id=report.run_id,
                steps=report.failures,
                run_error=report.run_error,
            ),
            style="red",
            markup=False,
            highlight=False,
        )
    reason = report.not_published
    if reason is not None:
        console.print(f"not published: {reason}", style="red", markup=False, highlight=False)
    elif report.published and report.warned:
        console.print(
            "published with failed WARN checks: "
            + ", ".join(f"{c.asset} {c.check}" for c in report.warned),
            style="yellow",
            markup=False,
            highlight=False,
        )
    status = "[green]succeeded[/]" if report.exit_code == 0 else "[red]failed[/]"
    console.print(
        f"run {report.run_id[:8]} {status}: {len(report.materialized)} assets materialized "
        f"in {report.duration_s:.1f} s"
    )
    for label, path in report.outputs.items():
        console.print(f"{label}: {path}")
    if report.log_path is not None:
        console.print(f"[dim]dbt output: {report.log_path}[/]")


def _print_unchanged(report: RunReport, console: Console) -> None:
    """How many dbt nodes the run rebuilt, when it left some out as unchanged."""
    if report.unchanged:
        dbt_assets = [n for n in report.materialized if not n.startswith(("raw/", PUBLISH_PREFIX))]
        console.print(
            f"dbt: {len(dbt_assets) - len(report.unchanged)} of {len(dbt_assets)} models, seeds "
            "and snapshots rebuilt; the others read no raw table that changed since the last "
            "build (their tests passed then)"
        )


def _print_tables(report: RunReport, console: Console) -> None:
    """The summary's tables: rows per raw table, and the marts built with their rows."""
    from rich.table import Table

    if report.raw:
        table = Table(title="raw tables", title_justify="left", box=None, pad_edge=False)
        for column in ("table", "rows", "inserted", "updated", "deleted"):
            table.add_column(column, justify="left" if column == "table" else "right")
        for name, (rows, ins, upd, dele) in sorted(report.raw.items()):
            table.add_row(name, f"{rows:,}", f"{ins:,}", f"{upd:,}", f"{dele:,}")
        console.print(table)
    if report.marts:
        table = Table(title="marts built", title_justify="left", box=None, pad_edge=False)
        table.add_column("mart")
        table.add_column("rows", justify="right")
        for name, rows in report.marts.items():
            table.add_row(f"marts.{name}", "-" if rows is None else f"{rows:,}")
        console.print(table)
