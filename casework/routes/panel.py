"""The panel's aggregate figures: cases by status, outcomes of flagged and control cases, runs."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from casework import store
from casework.web import Area, SignedIn, site_of
from casework.workflow import PANEL, SUPERVISOR

area = Area("panel")


@area.route("GET", "/panel", roles=(PANEL, SUPERVISOR))
def panel(request: Request, viewer: SignedIn) -> Response:
    site = site_of(request)
    with Session(site.engine) as session:
        figures = store.status_counts(session)
    return site.page(request, "panel.html", viewer, figures=figures)
