"""The source contract: the operational database of SOURCE_SCHEMA.md.

- `models.schema`: its tables, as SQLAlchemy Core metadata;
- `models.enums`: the allowed values of its choice columns, one tuple per set;
- `models.thresholds`: its business constants (the loyalty tier thresholds);
- `models.rules`: the rules a healthy source keeps, as SQL that names each offending row.

The seeder (`seeds`) and the product (`pipelines`) both import this package, never each
other; this package imports neither (tests/unit/test_boundaries.py).
"""

from models.schema import APPEND_ONLY, TABLES, metadata

__all__ = ["APPEND_ONLY", "TABLES", "metadata"]
