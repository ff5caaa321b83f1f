"""Request 003's stored LoyaltyAnalytics records: `POST analytics/calculate/`, the list and
one record, under `/api/v1/loyalty-management/`.

`calculate` stores one record per website and date range (unique, as the request says) and
returns it with its `id`. The same range asked again returns the stored record, recomputed
when the publication it was computed on is no longer the current one (the marts may have
changed). A record of a website outside the token's scope is as unknown as a missing one.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, model_validator

from pipelines.api import state
from pipelines.api.deps import ExactJSON, Marts, Token, one_website
from pipelines.loyalty_analytics import calculate_on, to_json

router = APIRouter(prefix="/api/v1/loyalty-management", tags=["loyalty"])

class CalculateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_from: dt.date
    date_to: dt.date
    website: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CalculateRequest:
        if self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        if self.website is not None and self.website < 1:
            raise ValueError("website is a positive id")
        return self

def _answer(record: state.AnalyticsRecord) -> dict[str, Any]:
    return {"id": record.id, **json.loads(record.record, parse_float=Decimal)}

def _compute(marts, website: int, body: CalculateRequest) -> str:
    rows = calculate_on(marts.con, body.date_from, body.date_to, website)
    if not rows:
        raise HTTPException(404, f"website {website} has no loyalty data")
    return to_json(rows[0])

@router.post(
    "/analytics/calculate/",
    response_class=ExactJSON,
    summary="Calculate (or fetch the stored) analytics of a website for a date range",
)
def calculate(request: Request, body: CalculateRequest, token: Token, marts: Marts) -> ExactJSON:
    website, as_of = one_website(token, marts, body.website)
    if body.date_to > as_of:
        raise HTTPException(400, f"date_to {body.date_to} is after the marts' as_of {as_of}")
    engine = request.app.state.api_state
    stored = state.find_record(engine, website, body.date_from, body.date_to)
    if stored is None or stored.marts_version != marts.version:
        stored = state.store_record(
            engine, website, body.date_from, body.date_to, _compute(marts, website, body),
            marts.version,
        )
    return ExactJSON(_answer(stored))

@router.get("/analytics/", response_class=ExactJSON, summary="The stored analytics records")
def records(request: Request, token: Token) -> ExactJSON:
    stored = state.list_records(request.app.state.api_state, token.websites)
    return ExactJSON([_answer(record) for record in stored])

@router.get("/analytics/{record_id}/", response_class=ExactJSON, summary="One stored record")
def record(request: Request, record_id: int, token: Token) -> ExactJSON:
    stored = state.get_record(request.app.state.api_state, record_id)
    if stored is None or not token.sees(stored.website):
        raise HTTPException(404, f"no analytics record {record_id}")
    return ExactJSON(_answer(stored))
