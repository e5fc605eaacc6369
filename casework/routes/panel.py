"""The panel's aggregate figures: cases by status, outcomes of flagged and control cases, runs, and
each run's drift page."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import audit, store
from casework.web import SELF_CONTAINED_PAGE_HEADERS, Area, SignedIn, site_of
from casework.workflow import PANEL, SUPERVISOR

area = Area("panel")


@area.route("GET", "/panel", roles=(PANEL, SUPERVISOR))
def panel(request: Request, viewer: SignedIn) -> Response:
    site = site_of(request)
    with Session(site.engine) as session:
        figures = store.status_counts(session)
    return site.page(request, "panel.html", viewer, figures=figures)


@area.route("GET", "/panel/drift", roles=(PANEL, SUPERVISOR))
def drift(request: Request, viewer: SignedIn, run_id: str = "") -> Response:
    """The drift page of ``run_id`` (default: the latest run imported), as the run wrote it."""
    from oversight.drift_page import render_drift_page
    from pipelines.drift import DRIFT_FILE

    site = site_of(request)
    with Session(site.engine) as session, session.begin():
        chosen = (session.get(store.Run, run_id) if run_id else
                  session.scalars(select(store.Run).order_by(store.Run.as_of.desc(), store.Run.imported_at.desc())).first())
        drift_file = Path(chosen.run_dir) / DRIFT_FILE if chosen is not None else None
        if drift_file is None or not drift_file.is_file():
            return site.page(request, "message.html", viewer, status=404, title="No drift figures",
                             message="No imported run with drift figures was found: a scoring run writes them "
                                     "beside its case list.")
        audit.record(session, viewer.name, "read drift", chosen.run_id)
    return HTMLResponse(render_drift_page(json.loads(drift_file.read_text(encoding="utf-8"))),
                        headers=SELF_CONTAINED_PAGE_HEADERS)
