"""The `mealytics` command."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence

from pipelines import settings
from pipelines.errors import MealyticsError, SeedError, SettingsError
from pipelines.secrets import redact


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument ends with one clear line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


@contextlib.contextmanager
def _seeder_errors() -> Iterator[None]:
    """The demo seeder's one error (`seeds.SourceError`) as the product's own: the seeder
    never imports the product, so the command line, its only caller, maps it."""
    import seeds

    try:
        yield
    except seeds.SourceError as exc:
        raise SeedError(str(exc)) from exc


def _cmd_source_generate(args: argparse.Namespace) -> int:
    import seeds

    with _seeder_errors():
        seeds.generate(
            args.url or args.settings.source_url,
            customers=args.customers,
            days=args.days,
            seed=args.seed,
            start=args.start,
            force=args.force,
            progress=not args.quiet,
        )
    return 0


def _cmd_source_advance(args: argparse.Namespace) -> int:
    import seeds

    with _seeder_errors():
        seeds.advance(args.url or args.settings.source_url, days=args.days, progress=not args.quiet)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import seeds

    url = args.settings.source_url
    with _seeder_errors():
        exists = seeds.exists(url)
        if not exists:
            seeds.generate(url, progress=not args.quiet)
    if exists:
        print(f"The demo source {settings.mask_url(url)} exists; leaving it as it is.")
    return _cmd_run(args)


def _cmd_run(args: argparse.Namespace) -> int:
    """Materialize every asset once through Dagster; exit 1 on any failure.

    The command line only fills the run's config (`--full-refresh`, `--as-of`); everything
    else, `MEALYTICS_AS_OF` included, reaches the run through the definitions' resources,
    exactly as for a scheduled run or one started in the UI.
    """
    import datetime as dt

    from rich.console import Console

    from pipelines import run

    config: settings.Settings = args.settings
    full_refresh = getattr(args, "full_refresh", False)
    as_of = getattr(args, "as_of", None)
    today = getattr(args, "today", False) and not (as_of or config.as_of)
    console = Console(stderr=False)
    console.print(
        f"Running every asset: {config.masked_source_url} → {config.warehouse}"
        + (" (full refresh)" if full_refresh else "")
        + (f", as of {as_of or config.as_of}" if as_of or config.as_of else "")
        + (", today so far" if today else "")
        + (
            f"; dbt on Spark ({config.spark_master}), lake {config.lake_folder}"
            if config.on_spark
            else ""
        )
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    report = run.execute(
        full_refresh=full_refresh,
        as_of=as_of,
        config=config,
        console=console,
        progress=not args.quiet,
        log_path=config.run_logs / f"run-{stamp}.log",
        confirm_deletes=tuple(getattr(args, "confirm_deletes", None) or ()),
        today_so_far=today,
    )
    from pipelines.defs.dbt.project import prune_runs

    prune_runs(config.run_logs, config.dbt_keep_runs, "run-*.log")
    run.print_summary(report, console)
    if report.log_error is not None:  # one line, naming the file (main)
        error = report.log_error
        raise OSError(error.errno, error.strerror or str(error), str(report.log_path))
    if any(_NO_SPACE in message for _, message in report.failures):
        # DuckDB and dbt report a full disk in their own words, not as an OSError.
        raise OSError(errno.ENOSPC, _NO_SPACE, str(config.warehouse.resolve().parent))
    if report.interrupted is not None:
        raise Interrupted(report.interrupted)
    return report.exit_code


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _cmd_loyalty_analytics(args: argparse.Namespace) -> int:
    """Request 003's `calculate` as JSON: one object with --website, else a list."""
    from pipelines import loyalty_analytics

    if args.date_from > args.date_to:
        print("mealytics: error: --from is after --to", file=sys.stderr)
        return 2
    try:
        rows = loyalty_analytics.calculate(
            args.warehouse or args.settings.warehouse, args.date_from, args.date_to, args.website
        )
    except loyalty_analytics.LoyaltyAnalyticsError as exc:
        print(f"mealytics: error: {exc}", file=sys.stderr)
        return 1
    if args.website is not None and not rows:
        print(f"mealytics: error: website {args.website} has no loyalty data", file=sys.stderr)
        return 1
    print(loyalty_analytics.to_json(rows[0] if args.website is not None else rows))
    return 0


def _cmd_api_token_create(args: argparse.Namespace) -> int:
    """A new API token: its id and scope, then the token itself, printed this once."""
    from pipelines.api import state

    if args.role == "analyst" and not args.website:
        print("mealytics: error: an analyst token needs at least one --website", file=sys.stderr)
        return 2
    engine = state.open_state(args.settings.api_state)
    token, secret = state.create_token(engine, args.role, args.website or ())
    scope = ", ".join(map(str, token.websites)) if token.websites else "every website"
    print(f"API token {token.id} ({token.role}; {scope}); shown this once, keep it now:")
    print(secret)
    return 0


def _cmd_api_token_revoke(args: argparse.Namespace) -> int:
    from pipelines.api import state

    token = state.revoke(state.open_state(args.settings.api_state), args.id)
    print(f"API token {token.id} revoked at {token.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    return 0


def _cmd_api_token_list(args: argparse.Namespace) -> int:
    from pipelines.api import state

    for token in state.list_tokens(state.open_state(args.settings.api_state)):
        scope = ",".join(map(str, token.websites)) or "all"
        revoked = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "live"
        print(f"{token.id}\t{token.role}\t{scope}\t{token.created_at:%Y-%m-%d %H:%M}\t{revoked}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """The HTTP API over the published marts, until interrupted."""
    from pipelines.api.app import serve

    serve(args.settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def _port(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 0 to 65535, got {value}")
    return value


def _quiet_option(parser: argparse.ArgumentParser) -> None:
    """`mealytics source generate -q` as well as `mealytics -q source generate`.

    SUPPRESS: a sub-command's default would otherwise overwrite the top-level flag.
    """
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mealytics", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = commands.add_parser("demo", help="generate the demo source if missing, then run")
    demo.set_defaults(func=_cmd_demo)

    run = commands.add_parser(
        "run", help="materialize every asset once through Dagster, as the schedule does"
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="re-extract every table and rebuild every dbt model from scratch",
    )
    run.add_argument(
        "--as-of",
        type=_date,
        default=None,
        help="the marts' as_of date, YYYY-MM-DD (default: MEALYTICS_AS_OF, else yesterday)",
    )
    run.add_argument(
        "--today",
        action="store_true",
        help="without --as-of: the marts end with today's partial day ('today so far'), as "
        "the frequent refresh's runs do",
    )
    run.add_argument(
        "--confirm-deletes",
        nargs="+",
        metavar="TABLE",
        default=None,
        help="allow this run to delete more than MEALYTICS_MAX_DELETE_SHARE (10 %%) of these "
        "raw tables, or empty them ('all': every table); without it such a run is refused",
    )
    run.set_defaults(func=_cmd_run)

    _add_source_commands(commands)
    _add_loyalty_command(commands)
    _add_api_commands(commands)
    serve = commands.add_parser(
        "serve", help="the read-only HTTP API over the published marts (OpenAPI at /docs)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    serve.add_argument(
        "--workers", type=_positive_int, default=1,
        help="processes serving the port (default 1; each reads the publication on its own)",
    )
    serve.set_defaults(func=_cmd_serve)
    return parser


def _add_source_commands(commands) -> None:
    """`mealytics source generate` and `mealytics source advance`."""
    source = commands.add_parser("source", help="the operational database: generate, advance")
    source_commands = source.add_subparsers(dest="source_command", required=True)

    generate = source_commands.add_parser(
        "generate", help="write a deterministic demo operational database"
    )
    generate.add_argument("--customers", type=_positive_int, default=5000)
    generate.add_argument("--days", type=_positive_int, default=180)
    generate.add_argument("--seed", type=_non_negative_int, default=42)
    generate.add_argument(
        "--start",
        type=_date,
        default=None,
        help="first business day (default: DAYS days ending on the websites' latest "
        "yesterday, the day the marts' default as_of describes)",
    )
    generate.add_argument("--url", help="SQLAlchemy URL (default: MEALYTICS_SOURCE_URL)")
    generate.add_argument(
        "--force", action="store_true", help="replace the tables of a non-empty target"
    )
    _quiet_option(generate)
    generate.set_defaults(func=_cmd_source_generate)

    advance = source_commands.add_parser(
        "advance", help="simulate more days of activity on an existing source"
    )
    advance.add_argument("--days", type=_positive_int, default=1)
    advance.add_argument("--url", help="SQLAlchemy URL (default: MEALYTICS_SOURCE_URL)")
    _quiet_option(advance)
    advance.set_defaults(func=_cmd_source_advance)


def _add_loyalty_command(commands) -> None:
    """`mealytics loyalty-analytics --from --to [--website]`."""
    loyalty = commands.add_parser(
        "loyalty-analytics", help="request 003's loyalty `calculate` for a date window, as JSON"
    )
    loyalty.add_argument("--from", dest="date_from", type=_date, required=True, help="YYYY-MM-DD")
    loyalty.add_argument("--to", dest="date_to", type=_date, required=True, help="YYYY-MM-DD")
    loyalty.add_argument("--website", type=_positive_int, default=None, help="one website's id")
    loyalty.add_argument("--warehouse", help="DuckDB file (default: MEALYTICS_WAREHOUSE)")
    loyalty.set_defaults(func=_cmd_loyalty_analytics)


def _add_api_commands(commands) -> None:
    """`mealytics api token create|revoke|list`."""
    api = commands.add_parser("api", help="the HTTP API's tokens (MEALYTICS_API_STATE)")
    api_commands = api.add_subparsers(dest="api_command", required=True, parser_class=_Parser)
    token = api_commands.add_parser("token", help="create, revoke or list API tokens")
    token_commands = token.add_subparsers(
        dest="token_command", required=True, parser_class=_Parser
    )
    create = token_commands.add_parser("create", help="a new token, printed once")
    create.add_argument("--role", choices=("admin", "analyst"), required=True)
    create.add_argument(
        "--website",
        type=_positive_int,
        nargs="+",
        action="extend",
        help="the websites the token sees (an analyst needs one; an admin without: all)",
    )
    create.set_defaults(func=_cmd_api_token_create)
    revoke = token_commands.add_parser("revoke", help="stop a token working, at once")
    revoke.add_argument("id", type=_positive_int, help="the token's id (not the token)")
    revoke.set_defaults(func=_cmd_api_token_revoke)
    listing = token_commands.add_parser("list", help="every token's id, role, scope, state")
    listing.set_defaults(func=_cmd_api_token_list)


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal: exit 128 + its number (130 SIGINT, 143 SIGTERM)."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal = int(signal_number)


def _terminated(signal_number, _frame) -> None:
    raise Interrupted(signal_number)


_WHAT_TO_DO = {
    errno.ENOSPC: "free space on that disk (or point MEALYTICS_WAREHOUSE / DAGSTER_HOME to "
    "another one), then run again; the warehouse keeps its last committed state",
    errno.EDQUOT: "free space within your quota, then run again",
    errno.EFBIG: "the file outgrew the size allowed to this process (ulimit -f); raise it",
    errno.EROFS: "the file system is read-only: point MEALYTICS_WAREHOUSE, "
    "MEALYTICS_PUBLISH_DIR or DAGSTER_HOME to a writable folder",
    errno.EACCES: "make the folder writable for this user, or point MEALYTICS_WAREHOUSE, "
    "MEALYTICS_PUBLISH_DIR or DAGSTER_HOME to a writable folder",
}
_WHAT_TO_DO[errno.EPERM] = _WHAT_TO_DO[errno.EACCES]


_NO_SPACE = os.strerror(errno.ENOSPC)


def _os_error(exc: OSError) -> str:
    """One line: the file, the system's reason, and what to do."""
    where = f" {exc.filename}" if exc.filename else ""
    hint = _WHAT_TO_DO.get(exc.errno or 0, "check the file and its folder")
    return redact(f"cannot write{where}: {exc.strerror or exc}: {hint}")


def main(argv: Sequence[str] | None = None) -> int:
    # Every file a command creates (warehouse and its WAL, published copies, logs, the
    # Dagster instance's storage, a demo source) holds customer data: owner only.
    settings.owner_only_files()
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    # SIGTERM (a scheduler stopping the command) ends it as Ctrl-C does, exit 143; during
    # the run Dagster's own handlers stop the step and the run reports the signal.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        # The environment (and `.env`), read once for the whole command.
        args.settings = settings.Settings.from_env()
        return func(args)
    except SettingsError as exc:  # a setting that cannot work: a usage error, as argparse's
        print(f"mealytics: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except MealyticsError as exc:
        print(f"mealytics: error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print("mealytics: interrupted", file=sys.stderr)
        return 128 + exc.signal
    except KeyboardInterrupt:
        print("mealytics: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except OSError as exc:  # a full disk, a read-only folder: the file and what to do
        print(f"mealytics: error: {_os_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
