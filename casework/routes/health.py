"""Readiness for a load balancer: whether the case store answers."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError

from casework.web import Area, site_of

area = Area("health")


@area.route("GET", "/healthz", roles=None)
def healthz(request: Request) -> Response:
    """200 when the case store answers a query, else 503 (the page cannot serve anyone)."""
    try:
        with site_of(request).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, InterfaceError):
        return JSONResponse({"status": "unavailable", "case_store": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "case_store": "reachable"})
