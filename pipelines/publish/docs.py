"""Where dbt's generated documentation lives, so the Dagster assets can link to it.

`make docs` writes `data/dbt_docs/static_index.html` (dbt docs generate --static: manifest and
catalog inlined, opens offline). `MEALYTICS_DBT_DOCS_URL` points the links at a hosted copy
instead (the `index.html` URL of a served `dbt docs` site).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_DOCS_DIR = Path("data") / "dbt_docs"
STATIC_PAGE = "static_index.html"


def dbt_docs_url(unique_id: str, resource_type: str = "model", base: str | None = None) -> str:
    """The docs page of one dbt node, e.g. `…/static_index.html#!/model/model.mealytics.x`;
    `base` is `MEALYTICS_DBT_DOCS_URL` (`Settings.dbt_docs_url`), by default `make docs`'
    static page."""
    base = base or (DEFAULT_DOCS_DIR.resolve() / STATIC_PAGE).as_uri()
    return f"{base}#!/{resource_type}/{unique_id}"
