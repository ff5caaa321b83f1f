"""Django models generated from the source contract (`models.schema.metadata`).

One model per contract table, field per column, so a column or table the contract gains
is in the Django app too. The mapping is Django's usual one:

- `id` → BigAutoField (Django's default primary key);
- Numeric(p, s) → DecimalField(max_digits=p, decimal_places=s);
- DateTime → DateTimeField; `updated_at` is `auto_now` (bumped by `save()` only);
  `created_at` and the other timestamps are plain fields the app sets;
- a foreign key → ForeignKey (OneToOneField when unique) with the contract's `on_delete`
  (`Column.info["on_delete"]`), `db_column` the contract's column name, and a constraint,
  which Django creates DEFERRABLE INITIALLY DEFERRED;
- String(n) → CharField(max_length=n) (with the contract's choices), Text → TextField,
  Boolean, Integer, BigInteger, Date as their Django fields; a server default → `default`.

The contract's module is the top-level package `models` (absolute import below); this one
is `django_source.models`, where Django looks for an app's models.
"""

from __future__ import annotations

import sqlalchemy as sa
from django.db import models as dj

from models.schema import metadata

APP_LABEL = "django_source"

ON_DELETE = {"CASCADE": dj.CASCADE, "SET_NULL": dj.SET_NULL, "PROTECT": dj.PROTECT}


def model_name(table: str) -> str:
    """`orders_order` → `OrdersOrder`."""
    return "".join(part.capitalize() for part in table.split("_"))


def field_name(column: sa.Column) -> str:
    """The Django field's name: a foreign key `website_id` is the field `website`."""
    if column.foreign_keys:
        return column.name.removesuffix("_id")
    return column.name


def _foreign_key(column: sa.Column) -> dj.Field:
    (fk,) = column.foreign_keys
    target = fk.column.table.name
    rule = column.info.get("on_delete")
    if rule not in ON_DELETE:
        raise ValueError(f"{column.table.name}.{column.name}: no on_delete rule in the contract")
    kind = dj.OneToOneField if column.unique else dj.ForeignKey
    return kind(
        "self" if target == column.table.name else f"{APP_LABEL}.{model_name(target)}",
        on_delete=ON_DELETE[rule],
        db_column=column.name,
        null=column.nullable,
        blank=column.nullable,
        related_name="+",
    )


def _scalar(column: sa.Column) -> dj.Field:
    kind = column.type
    common: dict = {"null": column.nullable, "blank": column.nullable}
    if column.unique:
        common["unique"] = True
    if column.index and not column.unique:
        common["db_index"] = True
    if column.server_default is not None:
        common["default"] = column.server_default.arg
    if isinstance(kind, sa.Boolean):
        return dj.BooleanField(**common)
    if isinstance(kind, sa.BigInteger):
        return dj.BigIntegerField(**common)
    if isinstance(kind, sa.Integer):
        return dj.IntegerField(**common)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return dj.DecimalField(max_digits=kind.precision, decimal_places=kind.scale, **common)
    if isinstance(kind, sa.DateTime):
        return dj.DateTimeField(auto_now=column.name == "updated_at", **common)
    if isinstance(kind, sa.Date):
        return dj.DateField(**common)
    if isinstance(kind, sa.Text):
        return dj.TextField(**common)
    if isinstance(kind, sa.String):
        choices = column.info.get("choices")
        if choices:
            common["choices"] = [(value, value) for value in choices]
        return dj.CharField(max_length=kind.length, **common)
    raise TypeError(f"{column.table.name}.{column.name}: no Django field for {kind!r}")


def _field(column: sa.Column) -> dj.Field:
    if column.primary_key:
        return dj.BigAutoField(primary_key=True)
    if column.foreign_keys:
        return _foreign_key(column)
    return _scalar(column)


def _model(table: sa.Table) -> type[dj.Model]:
    meta = type("Meta", (), {"app_label": APP_LABEL, "db_table": table.name})
    attrs: dict = {"__module__": __name__, "Meta": meta}
    attrs.update({field_name(c): _field(c) for c in table.columns})
    return type(model_name(table.name), (dj.Model,), attrs)


#: Every contract table's model, by table name, parents before children.
MODELS: dict[str, type[dj.Model]] = {t.name: _model(t) for t in metadata.sorted_tables}

globals().update({model.__name__: model for model in MODELS.values()})
