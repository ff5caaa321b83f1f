"""A Django app mirroring the source contract, for tests on a source the real ORM writes.

The operational database is a Django app's (SOURCE_SCHEMA.md), and Django writes it in ways
a hand-made source does not: `auto_now` bumped by `save()` only, `QuerySet.update()`,
`bulk_update()`, `save(update_fields=…)`, F() expressions, `on_delete` applied in Python,
money declared `decimal` with no precision and stored as REAL on SQLite, datetimes as text.

- `models`: the Django models, generated from the contract's SQLAlchemy metadata
  (`models.schema`), so the mirror cannot drift from it;
- `configure`: Django configured once per process (SQLite, PostgreSQL when a cluster runs);
- `database`: one Django database: tables by Django's own schema editor, rows loaded
  through the ORM, the URL the extractor reads;
- `business`: a small business written through the ORM (a demo source's rows, plus
  catering orders whose amounts have cents);
- `behaviours`: the changes a Django app makes, each one logged with what it changed;
- `scenario`: populate → extract → saves → extract → the other behaviours → extract;
- `compare`: the source read by its plain driver against raw, row by row;
- `marts`: dbt on two warehouses, their marts compared.

Nothing here imports pytest.
"""
