"""Settings from the environment (or a `.env` file), read when asked, never at import time."""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from pipelines import secrets
from pipelines.errors import SettingsError  # noqa: F401 (re-exported)

DEFAULT_SOURCE_PATH = Path("data") / "operational.db"
DEFAULT_WAREHOUSE_PATH = Path("data") / "warehouse.duckdb"
#: The API's own state (tokens, stored analytics, widgets): never the warehouse.
DEFAULT_API_STATE_URL = f"sqlite:///{Path('data') / 'api.db'}"
API_STATE_VAR = "MEALYTICS_API_STATE"

#: Schemas of the warehouse (and DuckDB's own). DuckDB names a file's database after the
#: file's stem, so in `raw.duckdb` the name `raw.orders` is ambiguous (database raw or
#: schema raw?) and every statement on it fails: such a file name is refused.
SCHEMA_NAMES = frozenset(
    {
        "raw",
        "meta",
        "staging",
        "intermediate",
        "marts",
        "publish",
        "information_schema",
        "pg_catalog",
    }
)


#: Bits every Mealytics process masks: files rw------- (0o600), folders rwx------ (0o700).
OWNER_ONLY_UMASK = 0o077


def owner_only_files() -> None:
    """From now on, every file and folder this process (and its children) creates is its
    owner's only: the warehouse, its WAL and spill files, the lock, Parquet, the dashboard,
    the published copy, dbt's target/ and logs/, Dagster's storage all hold customer data.

    Process-wide, and only ever tightened: bits already masked stay masked. Called by the
    CLI, by `build_definitions` (every process that loads the code location: `dagster dev`'s
    code server and run workers, `mealytics run`, tests) and by the `warehouse` resource
    when a run starts (whatever built the definitions).
    """
    os.umask(os.umask(OWNER_ONLY_UMASK) | OWNER_ONLY_UMASK)


def check_duckdb_file(path: str | os.PathLike, variable: str) -> Path:
    """`path`, unless its stem is a schema name of the warehouse (case-insensitive)."""
    path = Path(path)
    if path.stem.lower() in SCHEMA_NAMES:
        raise SettingsError(
            f"{variable}={path}: refused: DuckDB names the database after the file, and "
            f"{path.stem!r} is also a schema of the warehouse, so {path.stem}.<table> would "
            f"be ambiguous; use another name (e.g. {path.with_name('warehouse' + path.suffix)})"
        )
    return path


def load_dotenv_once() -> None:
    """Load `.env` from the working directory; variables already set win."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


DEFAULT_SCHEDULE_TIMEZONE = "Africa/Kampala"
DEFAULT_LOCK_TIMEOUT_S = 3600.0
SOURCE_URL_VAR = "MEALYTICS_SOURCE_URL"
LOCK_TIMEOUT_VAR = "MEALYTICS_WAREHOUSE_LOCK_TIMEOUT"
CONTENT_CHECK_VAR = "MEALYTICS_CONTENT_CHECK_EVERY"
#: How often each table's full rows are reconciled with the source by default (daily).
DEFAULT_CONTENT_CHECK_EVERY = dt.timedelta(days=1)
MAX_DELETE_SHARE_VAR = "MEALYTICS_MAX_DELETE_SHARE"
#: The mass-deletion guard's share (`pipelines.extract.deletes.guard_deletes`), in percent.
DEFAULT_MAX_DELETE_PCT = 10.0
PG_CHANGE_CURSOR_VAR = "MEALYTICS_PG_CHANGE_CURSOR"
CHANGE_LOG_MAX_SHARE_VAR = "MEALYTICS_CHANGE_LOG_MAX_SHARE"
REFRESH_MINUTES_VAR = "MEALYTICS_REFRESH_MINUTES"
#: The frequent refresh beside the daily run (DESIGN.md); 0 turns it off.
DEFAULT_REFRESH_MINUTES = 15
#: Past this share of a table (percent, and 10,000 rows) one commit's changes are logged as
#: one `all` row instead of key by key (`pipelines.extract.changes`).
DEFAULT_CHANGE_LOG_MAX_PCT = 20.0
DBT_KEEP_RUNS_VAR = "MEALYTICS_DBT_KEEP_RUNS"
#: Whether runs execute dbt's unit tests too (CI runs them: `make test`); off by default,
#: since they test the models' code, which a run does not change.
DBT_UNIT_TESTS_VAR = "MEALYTICS_DBT_UNIT_TESTS"
#: dbt invocations (target, logs, run artifacts: ~26 MB each) kept beside the warehouse.
DEFAULT_DBT_KEEP_RUNS = 10
#: How changed rows are found on PostgreSQL (`pipelines.extract.xmin`): the row's xmin
#: (every committed change), or `updated_at` (the cursor of every other source).
PG_CHANGE_CURSORS = ("xmin", "updated_at")
LAKE_VAR = "MEALYTICS_LAKE"
DBT_TARGET_VAR = "MEALYTICS_DBT_TARGET"
SPARK_MASTER_VAR = "MEALYTICS_SPARK_MASTER"
#: The engines dbt builds on (DESIGN.md): DuckDB on one machine, or Spark through dbt-spark.
DBT_TARGETS = ("duckdb", "spark")
#: dbt_project/profiles.yml's output of each target (DuckDB's is the profile's default).
DBT_PROFILE_TARGETS = {"duckdb": "dev", "spark": "spark"}
DEFAULT_SPARK_MASTER = "local[2]"


@dataclass(frozen=True)
class Settings:
    """Every setting of a process, read once (`Settings.from_env`) and passed down.

    The command line, the Dagster code location (`build_definitions`: its resources, the
    schedule) and `python -m pipelines.publish` each read the environment once into one of
    these; nothing below them reads the environment again. A scheduled run, a run started
    in the UI and `mealytics run` therefore resolve `as_of`, the paths and the source the
    same way: from the resources built from this object.
    """

    #: SQLAlchemy URL of the operational database (may hold a password: never log it).
    source_url: str = f"sqlite:///{DEFAULT_SOURCE_PATH}"
    #: Whether `MEALYTICS_SOURCE_URL` set it (Dagster then shows the variable, not the value).
    source_url_from_env: bool = False
    warehouse: Path = DEFAULT_WAREHOUSE_PATH
    #: Where the dashboard, Parquet and the published copy go; None: the warehouse's folder.
    publish_dir: Path | None = None
    #: The published copy readers open; None: `<publish folder>/published.duckdb`.
    published: Path | None = None
    #: The marts' as_of date; None: yesterday in each website's zone (dbt decides).
    as_of: dt.date | None = None
    schedule_timezone: str = DEFAULT_SCHEDULE_TIMEZONE
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    dagster_home: Path = Path("dagster_home")
    #: The dbt docs the Dagster assets link to; None: `make docs`' static page.
    dbt_docs_url: str | None = None
    #: How often every table's full rows are compared with the source (content
    #: reconciliation: what repairs changes that leave `updated_at`); 0: every run; None:
    #: never. `MEALYTICS_CONTENT_CHECK_EVERY`: `0`, `never`, or a number with a unit
    #: (`30m`, `12h`, `1d`).
    content_check_every: dt.timedelta | None = DEFAULT_CONTENT_CHECK_EVERY
    #: PostgreSQL's change cursor (`MEALYTICS_PG_CHANGE_CURSOR`): "xmin" or "updated_at".
    pg_change_cursor: str = "xmin"
    #: The mass-deletion guard (`MEALYTICS_MAX_DELETE_SHARE`, percent, default 10): a run
    #: deleting more of a table of at least 1,000 rows is refused unless confirmed
    #: (`mealytics run --confirm-deletes`).
    max_delete_pct: float = DEFAULT_MAX_DELETE_PCT
    #: The change log's share (`MEALYTICS_CHANGE_LOG_MAX_SHARE`, percent, default 20): a
    #: commit changing more of a table is logged as `all` (dbt rebuilds its dependents whole).
    change_log_max_pct: float = DEFAULT_CHANGE_LOG_MAX_PCT
    #: The frequent refresh's interval in minutes (`MEALYTICS_REFRESH_MINUTES`); 0: off.
    refresh_minutes: int = DEFAULT_REFRESH_MINUTES
    #: How many runs' dbt folders (and run logs) are kept (`MEALYTICS_DBT_KEEP_RUNS`).
    dbt_keep_runs: int = DEFAULT_DBT_KEEP_RUNS
    #: Whether a run's `dbt build` executes the unit tests (`MEALYTICS_DBT_UNIT_TESTS`).
    dbt_unit_tests: bool = False
    #: SQLAlchemy URL of the API's state (`MEALYTICS_API_STATE`; may hold a password).
    api_state: str = DEFAULT_API_STATE_URL
    #: The raw layer as Parquet for Spark (`MEALYTICS_LAKE`, `pipelines.lake`); None:
    #: `lake/` beside the warehouse.
    lake: Path | None = None
    #: The engine dbt builds on (`MEALYTICS_DBT_TARGET`): "duckdb" or "spark".
    dbt_target: str = "duckdb"
    #: Spark's master on the spark target (`MEALYTICS_SPARK_MASTER`): `local[2]`, a
    #: `spark://host:7077` cluster, …
    spark_master: str = DEFAULT_SPARK_MASTER

    def __post_init__(self) -> None:
        check_duckdb_file(self.warehouse, "MEALYTICS_WAREHOUSE")
        if self.published is not None:
            check_duckdb_file(self.published, "MEALYTICS_PUBLISHED")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of `environ` (default: the process's, after loading `.env`).

        A value that cannot work raises `SettingsError` naming the variable and the value.
        """
        if environ is None:
            load_dotenv_once()
            environ = os.environ
        env = {name: value for name, value in environ.items() if value}
        # Known before anything can fail or log: redacted from all that leaves the process.
        secrets.register_url(env.get(SOURCE_URL_VAR))
        secrets.register_url(env.get(API_STATE_VAR))
        published = env.get("MEALYTICS_PUBLISHED")
        publish_dir = env.get("MEALYTICS_PUBLISH_DIR")
        return cls(
            source_url=env.get(SOURCE_URL_VAR) or cls.source_url,
            source_url_from_env=SOURCE_URL_VAR in env,
            warehouse=Path(env.get("MEALYTICS_WAREHOUSE") or DEFAULT_WAREHOUSE_PATH),
            publish_dir=Path(publish_dir) if publish_dir else None,
            published=Path(published) if published else None,
            as_of=_as_of(env.get("MEALYTICS_AS_OF")),
            schedule_timezone=_time_zone(env.get("MEALYTICS_SCHEDULE_TIMEZONE")),
            lock_timeout_s=_seconds(env.get(LOCK_TIMEOUT_VAR), LOCK_TIMEOUT_VAR),
            dagster_home=Path(env.get("DAGSTER_HOME") or "dagster_home"),
            dbt_docs_url=env.get("MEALYTICS_DBT_DOCS_URL"),
            content_check_every=_every(env.get(CONTENT_CHECK_VAR), CONTENT_CHECK_VAR),
            pg_change_cursor=_change_cursor(env.get(PG_CHANGE_CURSOR_VAR)),
            max_delete_pct=_percent(env.get(MAX_DELETE_SHARE_VAR), MAX_DELETE_SHARE_VAR),
            refresh_minutes=_refresh_minutes(env.get(REFRESH_MINUTES_VAR)),
            change_log_max_pct=_percent(
                env.get(CHANGE_LOG_MAX_SHARE_VAR), CHANGE_LOG_MAX_SHARE_VAR,
                DEFAULT_CHANGE_LOG_MAX_PCT,
            ),
            dbt_keep_runs=_keep_runs(env.get(DBT_KEEP_RUNS_VAR)),
            dbt_unit_tests=_flag(env.get(DBT_UNIT_TESTS_VAR), DBT_UNIT_TESTS_VAR),
            api_state=env.get(API_STATE_VAR) or DEFAULT_API_STATE_URL,
            lake=Path(env[LAKE_VAR]) if env.get(LAKE_VAR, "").strip() else None,
            dbt_target=dbt_target(env.get(DBT_TARGET_VAR)),
            spark_master=(env.get(SPARK_MASTER_VAR) or DEFAULT_SPARK_MASTER).strip(),
        )

    @property
    def publish_folder(self) -> Path:
        """`publish_dir`, else the warehouse's folder."""
        return self.publish_dir or self.warehouse.resolve().parent

    @property
    def published_file(self) -> Path:
        """`published`, else `published.duckdb` in the publish folder."""
        return self.published or self.publish_folder / "published.duckdb"

    @property
    def lake_folder(self) -> Path:
        """`lake`, else `lake/` in the warehouse's folder (absolute)."""
        return (self.lake or self.warehouse.resolve().parent / "lake").resolve()

    @property
    def on_spark(self) -> bool:
        return self.dbt_target == "spark"

    @property
    def dbt_artifacts(self) -> Path:
        """dbt's target, logs and run artifacts: `dbt/` in the warehouse's folder, never
        in the code tree (which may be read-only, and would grow ~26 MB a run)."""
        return self.warehouse.resolve().parent / "dbt"

    @property
    def run_logs(self) -> Path:
        """The folder of `mealytics run`'s own logs, beside the warehouse."""
        return self.warehouse.resolve().parent / "logs"

    @property
    def masked_source_url(self) -> str:
        return mask_url(self.source_url)


def dbt_target(text: str | None) -> str:
    """MEALYTICS_DBT_TARGET: `duckdb` (unset: the default) or `spark`, any case."""
    value = (text or "duckdb").strip().lower() or "duckdb"
    if value not in DBT_TARGETS:
        raise SettingsError(
            f"{DBT_TARGET_VAR}={text!r}: the dbt target is 'duckdb' (the default: one "
            "machine) or 'spark' (dbt-spark; MEALYTICS_SPARK_MASTER, MEALYTICS_LAKE)"
        )
    return value


def _as_of(text: str | None) -> dt.date | None:
    if not text or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(f"MEALYTICS_AS_OF={text!r} is not a date (YYYY-MM-DD)") from None


def _time_zone(name: str | None) -> str:
    if not name:
        return DEFAULT_SCHEDULE_TIMEZONE
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"MEALYTICS_SCHEDULE_TIMEZONE={name!r} is not an IANA time zone"
        ) from None
    return name


def _change_cursor(text: str | None) -> str:
    value = (text or "xmin").strip().lower()
    if value not in PG_CHANGE_CURSORS:
        raise SettingsError(
            f"{PG_CHANGE_CURSOR_VAR}={text!r}: 'xmin' (the default) or 'updated_at' expected"
        )
    return value


def refresh_cron(minutes: int) -> str:
    """The cron schedule of a refresh every `minutes`: a divisor of 60 (`*/15 * * * *`) or a
    whole number of hours dividing a day (`0 */2 * * *`); ValueError otherwise."""
    if 1 <= minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        hours = minutes // 60
        return {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
    raise ValueError(
        f"{minutes} minutes: a refresh interval divides an hour (1, 2, 3, 4, 5, 6, 10, 12, "
        "15, 20, 30) or is whole hours dividing a day (60, 120, 180, 240, 360, 480, 720, 1440)"
    )


def _refresh_minutes(text: str | None) -> int:
    """MEALYTICS_REFRESH_MINUTES: 0 (off), or an interval the schedule can keep."""
    if text is None or not text.strip():
        return DEFAULT_REFRESH_MINUTES
    try:
        minutes = int(text.strip())
        if minutes:
            refresh_cron(minutes)
    except ValueError as exc:
        detail = str(exc) if text.strip().lstrip("-").isdigit() else "a whole number of minutes"
        raise SettingsError(f"{REFRESH_MINUTES_VAR}={text!r}: {detail}; 0 turns it off") from None
    if minutes < 0:
        raise SettingsError(f"{REFRESH_MINUTES_VAR}={text!r}: minutes, 0 turns it off")
    return minutes


def _flag(text: str | None, variable: str) -> bool:
    """A yes/no setting: 1, true, yes, on, or 0, false, no, off (any case); unset: no."""
    if text is None:
        return False
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{variable}={text!r}: 1 or 0 (true/false, yes/no, on/off) expected")


def _keep_runs(text: str | None) -> int:
    if text is None or not text.strip():
        return DEFAULT_DBT_KEEP_RUNS
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(
            f"{DBT_KEEP_RUNS_VAR}={text!r}: a whole number of runs, at least 1, expected "
            f"(default {DEFAULT_DBT_KEEP_RUNS})"
        )
    return value


def _seconds(text: str | None, variable: str) -> float:
    if not text:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        raise SettingsError(f"{variable}={text!r} is not a number of seconds") from None
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise SettingsError(
            f"{variable}={text!r} must be a finite number of seconds, zero or more "
            f"(default {DEFAULT_LOCK_TIMEOUT_S:g})"
        )
    return seconds


def _percent(text: str | None, variable: str, default: float = DEFAULT_MAX_DELETE_PCT) -> float:
    """A share in percent, 0 to 100 (`10`, `10%`, `2.5 %`); unset: `default`."""
    if text is None or not text.strip():
        return default
    try:
        value = float(text.strip().rstrip("%").strip())
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise SettingsError(
            f"{variable}={text!r} is not a percentage from 0 to 100 (e.g. 10 or 10%)"
        )
    return value


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _every(text: str | None, variable: str) -> dt.timedelta | None:
    """A cadence: `0` (every run), `never`, or a whole number with a unit (s, m, h, d)."""
    if text is None or not text.strip():
        return DEFAULT_CONTENT_CHECK_EVERY
    value = text.strip().lower()
    if value == "never":
        return None
    if value == "0":
        return dt.timedelta(0)
    match = re.fullmatch(r"(\d+)\s*([smhd])", value)
    if not match:
        raise SettingsError(
            f"{variable}={text!r} is not a cadence: use 0 (every run), never, or a whole "
            "number with a unit, such as 30m, 12h or 1d"
        )
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def mask_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, safe for logs and metadata."""
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError:
        return "<unparsable URL>"
    # The password hidden, and any known secret elsewhere in it (a query string) too.
    return secrets.redact(parsed.render_as_string(hide_password=True))
