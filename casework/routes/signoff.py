"""The panel's sign-off: a version's report, its digest, and the panel's decision on it.

A panel account reads the report logged with a version at training, sees its sha256 digest, and
approves or rejects the version there; the decision is recorded by :func:`oversight.signoff.decide`
(MLflow tags and the sign-off log) in the signed-in account's name, never a typed one. The page
needs the model registry: ``counterfraud app`` gives it (:class:`SignOffDesk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from casework import audit
from casework.notices import notice_query, shown_notice
from casework.web import SELF_CONTAINED_PAGE_HEADERS, Area, SignedIn, Viewer, checked_form, site_of
from casework.workflow import PANEL

area = Area("signoff")



@dataclass(frozen=True)
class SignOffDesk:
    """The registered model the panel signs off, and the workspace's sign-off log."""

    model_name: str
    log_path: Path


def _desk(request: Request) -> SignOffDesk | None:
    return getattr(request.app.state, "signoff", None)


def _unavailable(request: Request, viewer: Viewer, status: int = 200) -> HTMLResponse:
    return site_of(request).page(request, "message.html", viewer, status=status, title="Sign-off",
                                 message="This page was started without the model registry: start it with "
                                         "counterfraud app --workspace W to sign off versions here.")


def _versions(desk: SignOffDesk) -> list[dict[str, str]]:
    from mlflow import MlflowClient

    found = MlflowClient().search_model_versions(f"name = '{desk.model_name}'")
    return [{"version": str(record.version), "trained_by": record.tags.get("trained_by", ""),
             "decision": record.tags.get("signoff.decision", "not decided"),
             "by": record.tags.get("signoff.by", ""), "at": record.tags.get("signoff.at", "")}
            for record in sorted(found, key=lambda record: int(record.version), reverse=True)]


@area.route("GET", "/panel/signoff", roles=(PANEL,))
def signoff_page(request: Request, viewer: SignedIn, version: str = "") -> Response:
    """The versions and their decisions; with ``version``, its report's digest and the decision form."""
    from oversight.signoff import REPORT_SHA_TAG, SignOffError, logged_report_sha256

    desk, site = _desk(request), site_of(request)
    if desk is None:
        return _unavailable(request, viewer)
    versions = _versions(desk)
    chosen = next((entry for entry in versions if entry["version"] == version), None)
    facts = None
    if chosen is not None:
        from mlflow import MlflowClient

        tags = MlflowClient().get_model_version(desk.model_name, chosen["version"]).tags
        try:
            logged = logged_report_sha256(desk.model_name, chosen["version"])
        except SignOffError:
            logged = None
        facts = {**chosen, "digest": tags.get(REPORT_SHA_TAG, ""), "logged": logged or "",
                 "note": tags.get("signoff.note", "")}
    with Session(site.engine) as session:
        notice = shown_notice(session, request.query_params)
    return site.page(request, "signoff.html", viewer, versions=versions, chosen=facts, notice=notice, error="",
                     model_name=desk.model_name)


@area.route("GET", "/panel/signoff/report", roles=(PANEL,))
def report(request: Request, viewer: SignedIn, version: str = "") -> Response:
    """The report logged with ``version`` at training, as the panel decides on it."""
    import tempfile

    from oversight.signoff import SignOffError, download_report

    desk = _desk(request)
    if desk is None:
        return _unavailable(request, viewer)
    if version not in {entry["version"] for entry in _versions(desk)}:
        return site_of(request).page(request, "message.html", viewer, status=404, title="No such version",
                                     message=f"Model {desk.model_name} has no version {version!r}.")
    with tempfile.TemporaryDirectory() as staging:
        try:
            html = (download_report(desk.model_name, version, staging) / "report.html").read_text(encoding="utf-8")
        except SignOffError as error:
            return site_of(request).page(request, "message.html", viewer, status=404, title="No report",
                                         message=str(error))
    with Session(site_of(request).engine) as session, session.begin():
        audit.record(session, viewer.name, "read report", f"{desk.model_name} version {version}")
    return HTMLResponse(html, headers=SELF_CONTAINED_PAGE_HEADERS)


@area.route("POST", "/panel/signoff", roles=(PANEL,))
async def decide_on_version(request: Request, viewer: SignedIn) -> Response:
    """Record the signed-in panel account's decision, on the digest its page showed."""
    from oversight.signoff import APPROVED, REJECTED, SignOffError, decide

    site, desk = site_of(request), _desk(request)
    form = await checked_form(request, viewer)
    if desk is None:
        return _unavailable(request, viewer, status=409)
    version, decision = str(form.get("version") or ""), str(form.get("decision") or "")
    note, shown = str(form.get("note") or "")[:2000], str(form.get("report_sha256") or "")
    chosen = next((entry for entry in _versions(desk) if entry["version"] == version), None)
    error = ""
    if chosen is None:
        error = f"Model {desk.model_name} has no version {version!r}."
    elif decision not in (APPROVED, REJECTED):
        error = "Choose to approve or to reject the version."
    else:
        from mlflow import MlflowClient

        digest = MlflowClient().get_model_version(desk.model_name, version).tags.get("report_sha256", "")
        if shown != digest:
            error = ("The report's digest is not the one this page showed: reload the page and read the report "
                     "again before deciding.")
    if not error:
        try:
            entry = decide(model_name=desk.model_name, version=version, decision=decision, by=viewer.name,
                           note=note, log_path=desk.log_path, promote=form.get("promote") == "yes")
        except SignOffError as refused:
            error = str(refused).replace("--note", "The note")
    with Session(site.engine) as session, session.begin():
        target = f"{desk.model_name} version {version}"[:200]
        audit.record(session, viewer.name, "sign-off refused" if error else "sign-off", target,
                     error or f"{decision}{' and promoted' if entry['promoted'] else ''}")
    if error:
        versions = _versions(desk)
        return site.page(request, "signoff.html", viewer, status=409, versions=versions, chosen=None,
                         notice="", error=error, model_name=desk.model_name)
    notice = notice_query("decided_and_promoted" if entry["promoted"] else "decided", version=version,
                          decision=decision, account=viewer.name)
    return RedirectResponse("/panel/signoff?" + urlencode({"version": version}) + "&" + notice, status_code=303)
