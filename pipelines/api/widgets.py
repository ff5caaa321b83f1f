"""Request 003's dashboard widgets: `/api/v1/loyalty-management/dashboard-widgets/`.

Every token reads them; only an admin token creates, updates or deletes one (403
otherwise). A widget has one of the seven types, a title, a position (the order on the
dashboard), a visibility toggle and a JSON configuration, validated: unknown keys, an
unknown type or out-of-range values are a 422 with a message.

The types: request 003's seven and one per panel of the static dashboard
(`state.WIDGET_TYPES`); the live dashboard (`/dashboard`) shows the visible widgets in
position order, each over its configured window (`days`, or `date_from`..`date_to`) or, with
neither, over the window picked on the page.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.api import state
from pipelines.api.deps import Token, current_token
from pipelines.api.loyalty import MAX_LIMIT, MAX_TREND_DAYS

router = APIRouter(prefix="/api/v1/loyalty-management/dashboard-widgets", tags=["widgets"])

WidgetType = Literal[state.WIDGET_TYPES]  # type: ignore[valid-type]


class Configuration(BaseModel):
    """What a widget may configure: how it is drawn and the window it shows. `days`: the
    last N days up to each website's as_of; `date_from` and `date_to` (together, from <= to):
    a fixed range; neither: the window picked on the dashboard. `chart_type` is honoured by
    the loyalty widgets that can be drawn several ways (request 003's seven); `limit` by the
    ranked lists (top items, top redemptions, churn risk, recent orders)."""

    model_config = ConfigDict(extra="forbid")

    chart_type: Literal["line", "bar", "pie", "table", "metric"] | None = None
    days: Annotated[int, Field(ge=1, le=MAX_TREND_DAYS)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @model_validator(mode="after")
    def _one_window(self) -> Configuration:
        if (self.date_from is None) != (self.date_to is None):
            raise ValueError("date_from and date_to go together")
        if self.date_from is not None:
            if self.date_from > self.date_to:
                raise ValueError("date_from is after date_to")
            if self.days is not None:
                raise ValueError("a widget shows either the last `days` or a date range")
        return self


class WidgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    widget_type: Annotated[
        WidgetType,
        Field(description="request 003's seven types, and one per static dashboard panel"),
    ]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    position: Annotated[int, Field(ge=0, le=10_000)] = 0
    is_visible: bool = True
    configuration: Configuration = Configuration()

    def fields(self) -> dict:
        values = self.model_dump()
        values["configuration"] = self.configuration.model_dump(mode="json", exclude_none=True)
        return values


class Widget(BaseModel):
    """A stored widget, as it is answered (its configuration as stored: no empty keys)."""

    id: int
    widget_type: str
    title: str
    position: int
    is_visible: bool
    configuration: dict


def admin_token(token: Annotated[state.Token, Depends(current_token)]) -> state.Token:
    if not token.is_admin:
        raise HTTPException(403, "only an admin token changes dashboard widgets")
    return token


Admin = Annotated[state.Token, Depends(admin_token)]


def _found(widget: dict | None, widget_id: int) -> dict:
    if widget is None:
        raise HTTPException(404, f"no dashboard widget {widget_id}")
    return widget


@router.get("/", response_model=list[Widget], summary="Every widget, by position")
def list_widgets(request: Request, token: Token) -> list[dict]:
    return state.list_widgets(request.app.state.api_state)


@router.post("/", response_model=Widget, status_code=201, summary="Create a widget (admin)")
def create_widget(request: Request, body: WidgetIn, token: Admin) -> dict:
    return state.create_widget(request.app.state.api_state, body.fields())


@router.get("/{widget_id}/", response_model=Widget, summary="One widget")
def get_widget(request: Request, widget_id: int, token: Token) -> dict:
    return _found(state.get_widget(request.app.state.api_state, widget_id), widget_id)


@router.put("/{widget_id}/", response_model=Widget, summary="Replace a widget (admin)")
def update_widget(request: Request, widget_id: int, body: WidgetIn, token: Admin) -> dict:
    engine = request.app.state.api_state
    return _found(state.update_widget(engine, widget_id, body.fields()), widget_id)


@router.delete("/{widget_id}/", status_code=204, summary="Delete a widget (admin)")
def delete_widget(request: Request, widget_id: int, token: Admin) -> Response:
    if not state.delete_widget(request.app.state.api_state, widget_id):
        raise HTTPException(404, f"no dashboard widget {widget_id}")
    return Response(status_code=204)
