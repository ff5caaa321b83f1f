"""dbt's copies of the source contract stay equal to it (models.enums, models.thresholds).

dbt cannot import Python, so its YAML and seed CSVs spell the contract's values out; this
test is what keeps them in step. The rule for every `accepted_values` list under
dbt_project/models (column-level, in `data_tests:` or `tests:`, values given directly or
under `arguments:`), compared as sets:

1. Staging carries the source's choice columns. Each staging model reads one source table
   (the first `source('raw', …)` in its SQL: the only one once staging is a pure 1:1
   rename-and-cast) and names each source column `cast(<column> as <type>) as <name>`,
   `<column> as <name>`, or keeps its name. Every choice column of `models.schema`
   (`info["choices"]`) must be staged and carry an `accepted_values` test there, equal to
   its enum. A staging list on a column that is not a source choice column is judged by 2.
2. Everywhere else (intermediate, marts, and staging columns dbt derives), a list is
   - equal to a contract enum: it carries that enum, and passes;
   - declared in EXTENDED: it carries enum + values the model adds (the list must equal
     exactly that union, so a value the contract adds or drops fails here too);
   - declared in DBT_OWNED: values dbt defines itself (lifecycle stages, seed-defined
     channels, …), which the contract does not know and this test does not check.
   Any other list fails: it is a contract enum out of step, or a new list to classify.

The seeds: `loyalty_tiers.csv` is the contract's tiers, ranks and thresholds;
`vip_tier_levels.csv` its VIP tiers in rank order; `payment_method_groups.csv` groups
every payment method exactly once; `revenue_channels.csv` maps every payment purpose and
order channel of the contract, and no other.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from models import TABLES
from models.enums import ENUMS, ORDER_CHANNELS, PAYMENT_METHODS, PAYMENT_PURPOSES, VIP_TIERS
from models.thresholds import LOYALTY_TIER_THRESHOLDS

DBT = Path(__file__).resolve().parents[2] / "dbt_project"

#: (model, column) -> (contract enum, the values the model adds to it).
EXTENDED: dict[tuple[str, str], tuple[str, frozenset]] = {
    # A discount without a type is grouped as 'unspecified' (fct_discounts.sql).
    ("fct_discounts", "discount_type"): ("DISCOUNT_TYPES", frozenset({"unspecified"})),
    # An order by a customer holding no VIP tier is tier 'none' (fct_vip_revenue_by_tier_daily).
    ("fct_vip_revenue_by_tier_daily", "tier"): ("VIP_TIERS", frozenset({"none"})),
}

#: (model, column) -> where its values are defined, if not in the contract.
DBT_OWNED: dict[tuple[str, str], str] = {
    ("int_customers_aggregated", "lifecycle_stage"): "METRICS.md, Customers",
    ("dim_customers", "lifecycle_stage"): "METRICS.md, Customers",
    ("dim_customers", "ltv_segment"): "seed ltv_segments",
    ("int_payments_netted", "movement_type"): "the model: a payment or a refund",
    ("fct_revenue_by_channel", "channel"): "seed revenue_channels",
    ("fct_revenue_by_channel", "kind"): "seed revenue_channels",
    ("fct_redemption_patterns", "local_weekday"): "ISO weekday numbers",
    ("int_subscription_movements_classified", "movement"): "METRICS.md, Subscriptions",
    ("fct_loyalty_members_monthly", "member_group"): "METRICS.md, VIP and loyalty effects",
}


@dataclass(frozen=True)
class AcceptedValues:
    model: str
    column: str
    values: frozenset
    where: str  # the YAML file, for messages


def _tests(node: dict) -> list:
    return (node.get("data_tests") or []) + (node.get("tests") or [])


def accepted_values_lists(dbt: Path = DBT) -> Iterator[AcceptedValues]:
    """Every column-level accepted_values test in the models' YAML."""
    for path in sorted((dbt / "models").rglob("*.y*ml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            for column in model.get("columns") or []:
                for test in _tests(column):
                    if not isinstance(test, dict) or "accepted_values" not in test:
                        continue
                    spec = test["accepted_values"] or {}
                    values = (spec.get("arguments") or {}).get("values", spec.get("values"))
                    yield AcceptedValues(
                        model["name"],
                        column["name"],
                        frozenset(values or ()),
                        path.relative_to(dbt).as_posix(),
                    )


def staging_models(dbt: Path = DBT) -> dict[str, tuple[str, str]]:
    """Staging model -> (the source table it reads, its SQL)."""
    found = {}
    for path in sorted((dbt / "models" / "staging").rglob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        first = re.search(r"source\(\s*['\"]raw['\"]\s*,\s*['\"](\w+)['\"]\s*\)", sql)
        if first:
            found[path.stem] = (first.group(1), sql)
    return found


def plain_sql(sql: str) -> str:
    """The SQL with comments gone, quoted identifiers bare, other Jinja as one word.

    `{{ adapter.quote('interval') }}` and `"interval"` become `interval`; a type such as
    `{{ dbt.type_string() }}` becomes `jinja`, which is all a `cast(… as …)` needs.
    """
    sql = re.sub(r"\{#.*?#\}", " ", sql, flags=re.S)
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"\{\{\s*adapter\.quote\(\s*['\"](\w+)['\"]\s*\)\s*\}\}", r"\1", sql)
    sql = re.sub(r"\{\{.*?\}\}", "jinja", sql, flags=re.S)
    return re.sub(r"[\"`](\w+)[\"`]", r"\1", sql)


def staged_names(sql: str, column: str, yaml_columns: set[str]) -> set[str]:
    """The names a staging model gives source column `column` (none if it drops it)."""
    sql = plain_sql(sql)
    ref = rf"(?:\w+\.)?{column}"
    casts = re.findall(rf"cast\(\s*{ref}\s+as\s+[\w\s,()]*?\)\s+as\s+(\w+)", sql, re.I)
    renames = re.findall(rf"(?<![(\w.]){ref}\s+as\s+(\w+)\b(?!\s*\()", sql, re.I)
    names = set(casts) | set(renames)
    if not names and column in yaml_columns:
        names = {column}
    return names


def _yaml_columns(dbt: Path = DBT) -> dict[str, set[str]]:
    columns: dict[str, set[str]] = {}
    for path in sorted((dbt / "models").rglob("*.y*ml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            columns.setdefault(model["name"], set()).update(
                c["name"] for c in model.get("columns") or []
            )
    return columns


def _enum_name(values: tuple[str, ...]) -> str:
    return next(name for name, enum in ENUMS.items() if enum == values)


def _show(values) -> str:
    return repr(sorted(values, key=str))


def contract_breaks(dbt: Path = DBT) -> list[str]:
    """Every accepted_values list out of step with the contract, and every gap."""
    lists = {(a.model, a.column): a for a in accepted_values_lists(dbt)}
    staging = staging_models(dbt)
    yaml_columns = _yaml_columns(dbt)
    enums_by_set = {frozenset(values): name for name, values in ENUMS.items()}
    breaks, judged = [], set()

    for table in TABLES:
        models = [name for name, (source, _) in staging.items() if source == table.name]
        for column in table.columns:
            choices = column.info.get("choices")
            if not choices:
                continue
            where = f"{table.name}.{column.name} ({_enum_name(choices)})"
            if not models:
                breaks.append(f"{where}: no staging model reads {table.name}")
                continue
            for model in models:
                names = staged_names(staging[model][1], column.name, yaml_columns.get(model, set()))
                tested = [lists[(model, n)] for n in sorted(names) if (model, n) in lists]
                judged.update((model, n) for n in names)
                if not names:
                    breaks.append(f"{where}: not staged by {model}")
                elif not tested:
                    breaks.append(
                        f"{where}: {model}.{'/'.join(sorted(names))} has no accepted_values test"
                    )
                for found in tested:
                    if found.values != frozenset(choices):
                        breaks.append(
                            f"{found.where}: {model}.{found.column} accepts "
                            f"{_show(found.values)}, the contract {where} {_show(choices)}"
                        )

    for key, found in sorted(lists.items()):
        if key in judged or key in DBT_OWNED:
            continue
        if key in EXTENDED:
            name, extras = EXTENDED[key]
            expected = frozenset(ENUMS[name]) | extras
            if found.values != expected:
                breaks.append(
                    f"{found.where}: {found.model}.{found.column} accepts "
                    f"{_show(found.values)}, the contract's {name} + {_show(extras)} is "
                    f"{_show(expected)}"
                )
        elif found.values not in enums_by_set:
            breaks.append(
                f"{found.where}: {found.model}.{found.column} accepts {_show(found.values)}: "
                "equal to no contract enum; make it equal to the one it carries, or declare "
                "it in EXTENDED or DBT_OWNED (tests/unit/test_contract_dbt.py)"
            )
    for key in sorted(set(EXTENDED) | set(DBT_OWNED)):
        if key not in lists:
            breaks.append(f"{key[0]}.{key[1]}: declared here but has no accepted_values test")
    return breaks


def _seed(name: str) -> list[dict[str, str]]:
    with (DBT / "seeds" / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_accepted_values_list_follows_the_contract():
    breaks = contract_breaks()
    assert not breaks, "dbt's accepted_values out of step with models/:\n" + "\n".join(breaks)


def test_the_staging_mapping_is_found():
    """The SQL reading is real: known renames and same-name columns are mapped."""
    staging = staging_models()
    assert staging["stg_payments"][0] == "payments_payment"
    assert staging["stg_orders"][0] == "orders_order"
    columns = _yaml_columns()
    assert staged_names(staging["stg_payments"][1], "method", columns["stg_payments"]) == {
        "payment_method"
    }
    assert staged_names(staging["stg_orders"][1], "status", columns["stg_orders"]) == {"status"}
    assert staged_names("select\n    cast(kind as decimal(12, 2)) as amount_kind\n", "kind",
                        set()) == {"amount_kind"}
    assert staged_names("select\n    source.status as order_status,\n", "status", set()) == {
        "order_status"
    }
    assert staged_names("select * from source as (", "source", set()) == set()
    assert staged_names(
        "cast({{ adapter.quote('interval') }} as {{ dbt.type_string() }}) as billing_interval,",
        "interval",
        set(),
    ) == {"billing_interval"}
    assert staged_names('select "method" as payment_method -- method as x\n', "method", set()) == {
        "payment_method"
    }


def test_a_list_out_of_step_is_named(tmp_path):
    """Each kind of break is found in a copy of the project, with its file and values."""
    shutil.copytree(DBT / "models", tmp_path / "models")
    staging = tmp_path / "models" / "staging"

    def edit(name: str, old: str, new: str) -> None:
        path = staging / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    # A contract value missing from a staging list.
    edit("stg_orders.yml", "'out_for_delivery', ", "")
    # A source choice column left without its test.
    edit("stg_redemptions.yml", "accepted_values:", "accepted_values_removed:")
    # A list on a column that is no source choice column, unclassified.
    (tmp_path / "models" / "marts").mkdir(exist_ok=True)
    (tmp_path / "models" / "marts" / "fct_new.yml").write_text(
        "version: 2\nmodels:\n  - name: fct_new\n    columns:\n      - name: tier\n"
        "        data_tests:\n          - accepted_values:\n"
        "              values: ['silver', 'gold']\n",
        encoding="utf-8",
    )
    breaks = contract_breaks(tmp_path)
    assert any(
        b.startswith("models/staging/stg_orders.yml: stg_orders.status accepts")
        and "orders_order.status (ORDER_STATUSES)" in b
        for b in breaks
    ), breaks
    assert any(
        b.startswith("loyalty_redemption.status (REDEMPTION_STATUSES): stg_redemptions.status")
        and b.endswith("has no accepted_values test")
        for b in breaks
    ), breaks
    assert any(b.startswith("models/marts/fct_new.yml: fct_new.tier accepts") for b in breaks)
    assert len(breaks) == 3, breaks


def test_the_loyalty_tier_seed_is_the_contracts():
    assert [
        (row["tier"], int(row["tier_rank"]), int(row["threshold_points"]))
        for row in _seed("loyalty_tiers.csv")
    ] == [
        (tier, rank, threshold)
        for rank, (tier, threshold) in enumerate(LOYALTY_TIER_THRESHOLDS, start=1)
    ]


def test_the_vip_tier_seed_is_the_contracts():
    assert [(row["tier"], int(row["tier_rank"])) for row in _seed("vip_tier_levels.csv")] == [
        (tier, rank) for rank, tier in enumerate(VIP_TIERS, start=1)
    ]


def test_the_payment_and_channel_seeds_cover_the_contract():
    methods = [row["payment_method"] for row in _seed("payment_method_groups.csv")]
    assert sorted(methods) == sorted(PAYMENT_METHODS)
    channels = _seed("revenue_channels.csv")
    assert {r["payment_purpose"] for r in channels if r["payment_purpose"]} == set(
        PAYMENT_PURPOSES
    )
    assert {r["order_channel"] for r in channels if r["order_channel"]} == set(ORDER_CHANNELS)
