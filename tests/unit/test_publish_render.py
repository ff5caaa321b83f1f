"""The dashboard page itself, without a browser: the data cannot break out of its script
element, and a warehouse without marts is refused with a clear message."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from pipelines.publish import collect, render


def embedded(html: str) -> dict:
    match = re.search(r'<script id="payload" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    "name", ["</script><script>alert(1)</script>", "<!-- a", "Fish & chips", "Ugali & \"greens\""]
)
def test_names_cannot_end_the_data_script(name):
    payload = {"meal_names": {"cols": ["meal_id", "meal_name"], "rows": [[1, name]]}}
    html = render(payload)
    assert html.count("</script>") == 2  # the data's and the code's own
    assert "<!--" not in html.split('id="payload"')[1]
    assert embedded(html) == payload


def test_the_page_inlines_everything():
    html = render({"websites": []})
    assert "/*__" not in html  # every placeholder filled
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    assert "default-src 'none'" in html


def test_a_warehouse_without_marts_is_refused():
    con = duckdb.connect()
    try:
        with pytest.raises(LookupError, match="fct_daily_snapshot is missing"):
            collect(con)
    finally:
        con.close()
