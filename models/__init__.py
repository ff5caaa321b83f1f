"""The operational database's data model (SOURCE_SCHEMA.md) as SQLAlchemy Core tables."""

from models.schema import APPEND_ONLY, TABLES, metadata

__all__ = ["APPEND_ONLY", "TABLES", "metadata"]
