"""Checksums of every mart in a warehouse, to prove a change left the marts unchanged.

For each table in schema `marts`: its columns with their types, `count(*)`, and
`bit_xor(hash(row))` and `sum(hash(row))` over all rows (order-independent, so two builds
that wrote rows in another order still agree). Printed as JSON; with `--compare OTHER.json`
the differences are listed and the exit code is 1 if there are any.

    .venv/bin/python benchmarks/mart_checksums.py data/warehouse.duckdb > before.json
    .venv/bin/python benchmarks/mart_checksums.py data/warehouse.duckdb --compare before.json
"""

from __future__ import annotations

import argparse
import json
import sys

from pipelines import duck


def mart_checksums(warehouse: str) -> dict[str, dict]:
    """{mart: {"columns": [[name, type], …], "rows": n, "xor": h, "sum": h}}."""
    con = duck.connect(warehouse, read_only=True)
    try:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by table_name"
            ).fetchall()
        ]
        out = {}
        for name in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
            rows, xor, total = con.execute(
                f'select count(*), bit_xor(hash(t)), sum(hash(t))::varchar from marts."{name}" t'
            ).fetchone()
            out[name] = {
                "columns": [list(c) for c in columns],
                "rows": rows,
                "xor": str(xor),
                "sum": total,
            }
        return out
    finally:
        con.close()


def differences(before: dict, after: dict) -> list[str]:
    """One line per mart that is missing, new, or differs in columns, rows or hashes."""
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            lines.append(f"{name}: missing after")
        elif name not in before:
            lines.append(f"{name}: new (not compared)")
        elif before[name] != after[name]:
            changed = [k for k in before[name] if before[name][k] != after[name].get(k)]
            lines.append(f"{name}: differs in {', '.join(changed)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--compare", help="a JSON file written by this script before")
    args = parser.parse_args()
    sums = mart_checksums(args.warehouse)
    if not args.compare:
        print(json.dumps(sums, indent=1, sort_keys=True))
        return 0
    with open(args.compare) as f:
        before = json.load(f)
    lines = differences(before, sums)
    missing_or_changed = [line for line in lines if "(not compared)" not in line]
    print("\n".join(lines) if lines else f"all {len(sums)} marts identical")
    return 1 if missing_or_changed else 0


if __name__ == "__main__":
    sys.exit(main())
