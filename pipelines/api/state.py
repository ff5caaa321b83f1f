"""The API's own small state, in `MEALYTICS_API_STATE` (a SQLAlchemy URL; default the SQLite
file `data/api.db`), never in the warehouse (DESIGN.md).

- `api_tokens`: one row per token: its role (`admin` or `analyst`), the websites it may see
  (none: every website; an analyst always has at least one), the SHA-256 of the token (the
  token itself is printed once and never stored), when it was created and revoked.
- `loyalty_analytics`: request 003's stored `calculate` records, unique per website and
  date range, with the publication they were computed on.
- `dashboard_widgets`: request 003's configurable widgets (its seven types and one per panel
  of the static dashboard: WIDGET_TYPES).

SQLAlchemy Core only; the tables are created on first use (`open_state`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from pipelines.errors import MealyticsError
from pipelines.settings import DEFAULT_API_STATE_URL  # noqa: F401 (the default, re-exported)

ROLES = ("admin", "analyst")
#: Request 003's seven widget types.
REQUEST_003_WIDGET_TYPES = (
    "points_issued",
    "redemptions_trend",
    "tier_distribution",
    "top_redemptions",
    "engagement_rate",
    "points_balance",
    "wallet_conversion",
)
#: One widget type per panel of the static dashboard that request 003's seven do not cover
#: (the live dashboard with no widget stored shows every static panel, in the static page's
#: order: pipelines/publish/static/dashboard.js, WIDGET_CHARTS). points_issued,
#: tier_distribution, top_redemptions and engagement_rate are the static panels "Loyalty
#: points", "Loyalty tiers", "Top redemption items" and "Engagement"; redemptions_trend,
#: points_balance and wallet_conversion are drawn by the live dashboard only.
PANEL_WIDGET_TYPES = (
    "key_metrics",
    "revenue_trend",
    "revenue_by_channel",
    "revenue_reconciliation",
    "collection_health",
    "payment_methods",
    "order_status",
    "top_items",
    "acquisition_retention",
    "discounts",
    "vip_tiers",
    "vip_tier_revenue",
    "ltv_segments",
    "churn_risk",
    "predicted_value",
    "retention_cohorts",
    "subscriptions",
    "mrr_movements",
    "loyalty_members",
    "points_liability",
    "redemption_insights",
    "campaigns",
    "campaign_course",
    "campaign_channels",
    "referral_funnel",
    "delivery_performance",
    "kitchen",
    "staff",
    "health_goals",
    "recent_orders",
    "support_consultations",
)
WIDGET_TYPES = REQUEST_003_WIDGET_TYPES + PANEL_WIDGET_TYPES
#: A token: this prefix, then 32 random bytes (URL-safe base64), so a leaked one is
#: recognisable in a log or a repository.
TOKEN_PREFIX = "mly_"

metadata = sa.MetaData()

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("websites", sa.JSON, nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role in ('admin', 'analyst')", name="api_tokens_role"),
)

loyalty_analytics = sa.Table(
    "loyalty_analytics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("website", sa.Integer, nullable=False),
    sa.Column("date_from", sa.Date, nullable=False),
    sa.Column("date_to", sa.Date, nullable=False),
    #: request 003's fields (without `id`) as JSON text, decimals exact (36.00 stays 36.00)
    sa.Column("record", sa.Text, nullable=False),
    #: the publication (version id) the record was computed on: recomputed when it changes
    sa.Column("marts_version", sa.String(64), nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("website", "date_from", "date_to", name="loyalty_analytics_range"),
    sa.CheckConstraint("date_from <= date_to", name="loyalty_analytics_order"),
)

dashboard_widgets = sa.Table(
    "dashboard_widgets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("widget_type", sa.String(32), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.Column("is_visible", sa.Boolean, nullable=False, default=True),
    sa.Column("configuration", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "widget_type in (" + ", ".join(f"'{t}'" for t in WIDGET_TYPES) + ")",
        name="dashboard_widgets_type",
    ),
)


class ApiStateError(MealyticsError):
    """The API's state cannot be opened, or a token asked for does not exist."""


@dataclass(frozen=True)
class Token:
    """A token as stored (never the secret itself)."""

    id: int
    role: str
    #: the websites it may see; empty: every website (admin only)
    websites: tuple[int, ...]
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def sees(self, website: int) -> bool:
        return not self.websites or website in self.websites


def open_state(url: str) -> sa.Engine:
    """An engine on the API's state, its tables created if missing (a SQLite file's folder
    too)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ApiStateError(f"MEALYTICS_API_STATE is not a SQLAlchemy URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed)
    try:
        metadata.create_all(engine)
        _widen_widget_types(engine)
    except sa.exc.SQLAlchemyError as exc:
        raise ApiStateError(f"cannot open the API state: {exc.__class__.__name__}") from None
    return engine


def _widen_widget_types(engine: sa.Engine) -> None:
    """A state created when there were fewer widget types (request 003's seven): its CHECK
    on `widget_type` rewritten to WIDGET_TYPES, the widgets kept (SQLite cannot alter a
    constraint: the table is copied into a new one)."""
    checks = sa.inspect(engine).get_check_constraints(dashboard_widgets.name)
    current = [c["sqltext"] for c in checks if c.get("name") == "dashboard_widgets_type"]
    if current and all(f"'{kind}'" in current[0] for kind in WIDGET_TYPES):
        return
    constraint = next(
        c for c in dashboard_widgets.constraints if c.name == "dashboard_widgets_type"
    )
    with engine.begin() as con:
        if engine.dialect.name == "sqlite":
            con.execute(sa.text("alter table dashboard_widgets rename to dashboard_widgets_old"))
            dashboard_widgets.create(con)
            names = ", ".join(c.name for c in dashboard_widgets.columns)
            con.execute(sa.text(
                f"insert into dashboard_widgets ({names}) select {names} from dashboard_widgets_old"
            ))
            con.execute(sa.text("drop table dashboard_widgets_old"))
        else:
            con.execute(sa.text(
                "alter table dashboard_widgets drop constraint if exists dashboard_widgets_type"
            ))
            con.execute(sa.text(
                f"alter table dashboard_widgets add constraint dashboard_widgets_type "
                f"check ({constraint.sqltext})"
            ))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_scope(role: str, websites: tuple[int, ...]) -> None:
    if role not in ROLES:
        raise ApiStateError(f"role {role!r}: admin or analyst")
    if role == "analyst" and not websites:
        raise ApiStateError("an analyst token needs at least one --website")
    if any(website < 1 for website in websites):
        raise ApiStateError("website ids are positive whole numbers")


def create_token(engine: sa.Engine, role: str, websites=()) -> tuple[Token, str]:
    """A new token: (its stored row, the secret to hand over once)."""
    scope = tuple(sorted(set(int(w) for w in websites)))
    _check_scope(role, scope)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = _now()
    with engine.begin() as con:
        token_id = con.execute(
            api_tokens.insert().values(
                role=role,
                websites=list(scope),
                secret_sha256=hash_secret(secret),
                created_at=created,
            )
        ).inserted_primary_key[0]
    return Token(token_id, role, scope, created), secret


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored time as UTC: SQLite gives back naive datetimes (written in UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def _token(row) -> Token:
    return Token(
        id=row.id,
        role=row.role,
        websites=tuple(row.websites),
        created_at=_utc(row.created_at),
        revoked_at=_utc(row.revoked_at),
    )


def verify(engine: sa.Engine, secret: str) -> Token | None:
    """The live token `secret` is, or None (unknown, revoked, malformed)."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    query = sa.select(api_tokens).where(
        api_tokens.c.secret_sha256 == hash_secret(secret), api_tokens.c.revoked_at.is_(None)
    )
    with engine.connect() as con:
        row = con.execute(query).first()
    return None if row is None else _token(row)


def revoke(engine: sa.Engine, token_id: int) -> Token:
    """Revoke a token at once (already revoked: left as it was); its row, revoked."""
    with engine.begin() as con:
        con.execute(
            api_tokens.update()
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        row = con.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise ApiStateError(f"no API token {token_id}")
    return _token(row)


def list_tokens(engine: sa.Engine) -> list[Token]:
    with engine.connect() as con:
        rows = con.execute(sa.select(api_tokens).order_by(api_tokens.c.id)).all()
    return [_token(row) for row in rows]


@dataclass(frozen=True)
class AnalyticsRecord:
    """A stored `calculate` answer: its id, the JSON text of its fields, its version."""

    id: int
    website: int
    record: str
    marts_version: str


def _record(row) -> AnalyticsRecord:
    return AnalyticsRecord(row.id, row.website, row.record, row.marts_version)


def find_record(engine: sa.Engine, website: int, date_from, date_to) -> AnalyticsRecord | None:
    table = loyalty_analytics
    query = sa.select(table).where(
        table.c.website == website, table.c.date_from == date_from, table.c.date_to == date_to
    )
    with engine.connect() as con:
        row = con.execute(query).first()
    return None if row is None else _record(row)


def store_record(
    engine: sa.Engine, website: int, date_from, date_to, record: str, marts_version: str
) -> AnalyticsRecord:
    """The record of (website, date_from, date_to), written or rewritten: one per range
    (two requests storing the same range at once: the second rewrites the first's row)."""
    values = {"record": record, "marts_version": marts_version, "computed_at": _now()}
    table = loyalty_analytics
    for _ in range(2):
        found = find_record(engine, website, date_from, date_to)
        try:
            with engine.begin() as con:
                if found is None:
                    con.execute(table.insert().values(
                        website=website, date_from=date_from, date_to=date_to, **values
                    ))
                else:
                    con.execute(table.update().where(table.c.id == found.id).values(**values))
            break
        except sa.exc.IntegrityError:  # inserted meanwhile by another request: update it
            continue
    return find_record(engine, website, date_from, date_to)


def list_records(engine: sa.Engine, websites: tuple[int, ...]) -> list[AnalyticsRecord]:
    """The stored records of these websites (none: every website), by id."""
    query = sa.select(loyalty_analytics).order_by(loyalty_analytics.c.id)
    if websites:
        query = query.where(loyalty_analytics.c.website.in_(websites))
    with engine.connect() as con:
        return [_record(row) for row in con.execute(query)]


def get_record(engine: sa.Engine, record_id: int) -> AnalyticsRecord | None:
    query = sa.select(loyalty_analytics).where(loyalty_analytics.c.id == record_id)
    with engine.connect() as con:
        row = con.execute(query).first()
    return None if row is None else _record(row)


_WIDGET_FIELDS = ("widget_type", "title", "position", "is_visible", "configuration")


def _widget(row) -> dict:
    return {"id": row.id, **{name: getattr(row, name) for name in _WIDGET_FIELDS}}


def list_widgets(engine: sa.Engine) -> list[dict]:
    table = dashboard_widgets
    with engine.connect() as con:
        rows = con.execute(sa.select(table).order_by(table.c.position, table.c.id))
        return [_widget(row) for row in rows]


def get_widget(engine: sa.Engine, widget_id: int) -> dict | None:
    with engine.connect() as con:
        row = con.execute(
            sa.select(dashboard_widgets).where(dashboard_widgets.c.id == widget_id)
        ).first()
    return None if row is None else _widget(row)


def create_widget(engine: sa.Engine, fields: dict) -> dict:
    now = _now()
    with engine.begin() as con:
        widget_id = con.execute(
            dashboard_widgets.insert().values(**fields, created_at=now, updated_at=now)
        ).inserted_primary_key[0]
    return get_widget(engine, widget_id)


def update_widget(engine: sa.Engine, widget_id: int, fields: dict) -> dict | None:
    with engine.begin() as con:
        changed = con.execute(
            dashboard_widgets.update()
            .where(dashboard_widgets.c.id == widget_id)
            .values(**fields, updated_at=_now())
        ).rowcount
    return get_widget(engine, widget_id) if changed else None


def delete_widget(engine: sa.Engine, widget_id: int) -> bool:
    with engine.begin() as con:
        return bool(
            con.execute(
                dashboard_widgets.delete().where(dashboard_widgets.c.id == widget_id)
            ).rowcount
        )
