"""What the case pages offer, accept and record: steps, page numbers, notices, refusals, the start line."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from casework import audit
from casework.store import Case, CaseDetail
from features.contract import TYPOLOGIES
from tests.casework.conftest import PASSWORD, case_site

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def site(scored, tmp_path_factory):
    return case_site(scored, tmp_path_factory.mktemp("pages"))


def _signed_in(app, name: str) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    token = CSRF.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code == 303
    return client, CSRF.search(client.get("/cases" if name != "admin" else "/admin/users").text).group(1)


def _new_case(engine) -> Case:
    with Session(engine) as session:
        return session.scalars(select(Case).where(Case.status == "new").order_by(Case.rank)).first()


def _log(engine) -> list[tuple[str, str, str, str]]:
    with Session(engine) as session:
        return [(entry.actor, entry.action, entry.target, entry.detail) for entry in audit.recent_entries(session)]


def test_take_this_case_is_not_offered_on_a_case_assigned_to_someone_else(site):
    engine, app = site
    case = _new_case(engine)
    other, other_token = _signed_in(app, "investigator")
    assert 'id="take"' in other.get(f"/cases/{case.id}").text
    ivy, ivy_token = _signed_in(app, "ivy")
    assert ivy.post(f"/cases/{case.id}/assign", data={"csrf_token": ivy_token, "version": str(case.version)}
                    ).status_code == 303
    page = other.get(f"/cases/{case.id}").text
    assert "assigned to <strong id=\"assignee\">ivy</strong>" in page and 'id="take"' not in page
    assert 'id="take"' not in ivy.get(f"/cases/{case.id}").text  # already hers
    # a supervisor may take over another's case, and is offered it
    supervisor, _ = _signed_in(app, "supervisor")
    assert 'id="take"' in supervisor.get(f"/cases/{case.id}").text


def test_a_number_out_of_range_gives_the_last_page_or_no_case_and_one_not_a_number_a_clear_400_page(site):
    _, app = site
    client, _ = _signed_in(app, "investigator")
    last = client.get("/cases?page_number=99999999999999999999")
    assert last.status_code == 200
    shown = re.search(r"page ([0-9,]+) of ([0-9,]+)", last.text)
    assert shown and shown.group(1) == shown.group(2)
    assert re.search(r"page 1 of", client.get("/cases?page_number=-5").text)
    bad = client.get("/cases?page_number=abc")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert "The page_number in this address is not valid" in bad.text and "<h1>Bad request</h1>" in bad.text
    assert client.get("/cases/99999999999999999999").status_code == 404
    assert client.get("/cases/abc").status_code == 400


def test_only_the_pages_own_notices_are_shown(site):
    _, app = site
    client, _ = _signed_in(app, "supervisor")
    forged = client.get("/cases?notice=Your+account+is+suspended:+call+0800+000+000")
    assert forged.status_code == 200 and "suspended" not in forged.text and 'class="notice"' not in forged.text
    nobody = client.get("/cases?notice=assigned&count=2&account=someone+made+up")
    assert "someone made up" not in nobody.text and 'class="notice"' not in nobody.text
    assert 'class="notice" role="status">2 case(s) assigned to ivy.' in client.get(
        "/cases?notice=assigned&count=2&account=ivy").text
    admin, _ = _signed_in(app, "admin")
    assert "suspended" not in admin.get("/admin/users?notice=Your+account+is+suspended").text


def test_refused_actions_are_in_the_access_log(site):
    engine, app = site
    case = _new_case(engine)
    ivy, ivy_token = _signed_in(app, "ivy")
    assert ivy.post(f"/cases/{case.id}/assign", data={"csrf_token": ivy_token, "version": str(case.version)}
                    ).status_code == 303
    other, other_token = _signed_in(app, "investigator")
    refused = other.post(f"/cases/{case.id}/start", data={"csrf_token": other_token, "version": str(case.version + 1)})
    assert refused.status_code == 409
    assert ("investigator", "start review refused", str(case.id)) in {entry[:3] for entry in _log(engine)}
    panel, panel_token = _signed_in(app, "panel")
    assert panel.post("/cases/claim-next", data={"csrf_token": panel_token}).status_code == 403
    assert ("panel", "refused", "POST /cases/claim-next", "the panel role cannot open this page") in _log(engine)
    assert other.post("/cases/claim-next", data={"csrf_token": "forged"}).status_code == 403
    assert ("investigator", "refused", "POST /cases/claim-next",
            "the form did not carry the session's token") in _log(engine)


def test_the_app_logs_its_start_line_at_info(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("counterfraud")), "app", "--workspace", str(tmp_path / "ws"),
               "--port", str(port)]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline, line = time.monotonic() + 120, ""
        while time.monotonic() < deadline and "case review on" not in line:
            line = server.stderr.readline()
            if not line and server.poll() is not None:
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert f"INFO casework.commands: case review on http://127.0.0.1:{port} (0 cases in the store)" in line


def _listed(page: str) -> set[int]:
    """The case ids of a page's table of cases."""
    table = page[page.index('<table class="cases"'):page.index("</table>", page.index('<table class="cases"'))]
    return {int(case_id) for case_id in re.findall(r'href="/cases/([0-9]+)"', table)}


def test_caseworkers_search_by_nino_and_the_panel_may_not_search(site):
    engine, app = site
    with Session(engine) as session:
        case, records = next((case, json.loads(detail.records)) for case, detail in session.execute(
            select(Case, CaseDetail).join(CaseDetail, CaseDetail.case_id == Case.id).order_by(Case.rank))
            if any(row["nino"] for row in json.loads(detail.records)["benefit_claims"]))
    nino = next(row["nino"] for row in records["benefit_claims"] if row["nino"])
    ivy, _ = _signed_in(app, "ivy")
    assert 'id="search-query" value=""' in ivy.get("/cases", params={"view": "mine", "sort": "rank"}).text
    found = ivy.get("/cases/search", params={"q": nino.lower()})
    assert found.status_code == 200 and case.id in _listed(found.text)
    assert f'id="search-query" value="{nino.lower()}"' in found.text
    assert ("ivy", "search cases", nino.lower()) in {entry[:3] for entry in _log(engine)}
    assert "No case matches" in ivy.get("/cases/search", params={"q": "ZZ999999Z"}).text
    panel, _ = _signed_in(app, "panel")
    assert 'id="search-query"' not in panel.get("/cases").text
    refused = panel.get("/cases/search", params={"q": nino})
    assert refused.status_code == 403 and case.subject_ref not in refused.text
    assert ("panel", "refused", "GET /cases/search") in {entry[:3] for entry in _log(engine)}


def test_my_cases_lists_the_viewer_s_open_cases_only(site):
    engine, app = site
    ivy, ivy_token = _signed_in(app, "ivy")
    claimed = ivy.post("/cases/claim-next", data={"csrf_token": ivy_token})
    mine = int(claimed.headers["location"].rsplit("/", 1)[1])
    other, other_token = _signed_in(app, "investigator")
    theirs = int(other.post("/cases/claim-next", data={"csrf_token": other_token}).headers["location"].rsplit("/", 1)[1])
    page = ivy.get("/cases", params={"view": "mine"}).text
    listed = _listed(page)
    with Session(engine) as session:
        ivy_open = set(session.scalars(select(Case.id).where(Case.assignee == "ivy", Case.status != "closed")))
    assert mine in listed and theirs not in listed and listed == ivy_open
    assert f'My cases <span class="count">{len(ivy_open)}</span>' in page and "<h1>My cases" in page
    assert theirs in _listed(ivy.get("/cases", params={"assignee": "investigator"}).text)


def test_notes_are_shown_on_the_case_page_and_in_its_events_but_not_to_the_panel(site):
    engine, app = site
    ivy, ivy_token = _signed_in(app, "ivy")
    case_id = int(ivy.post("/cases/claim-next", data={"csrf_token": ivy_token}).headers["location"].rsplit("/", 1)[1])
    note = "Rang the landlord: <b>no answer</b>; will write."
    assert ivy.post(f"/cases/{case_id}/note", data={"csrf_token": ivy_token, "note": note}).status_code == 303
    page = ivy.get(f"/cases/{case_id}").text
    notes = page[page.index('id="notes"'):page.index("</section>", page.index('id="notes"'))]
    events = page[page.index('id="events"'):]
    escaped = "Rang the landlord: &lt;b&gt;no answer&lt;/b&gt;; will write."
    assert "<strong>ivy</strong>" in notes and escaped in notes and escaped in events
    assert 'id="case-note"' in page and 'maxlength="4000"' in page
    too_long = ivy.post(f"/cases/{case_id}/note", data={"csrf_token": ivy_token, "note": "x" * 4_001})
    assert too_long.status_code == 409 and "a note is at most 4,000 characters" in too_long.text
    assert ("ivy", "add note refused", str(case_id)) in {entry[:3] for entry in _log(engine)}
    assert ivy.post(f"/cases/{case_id}/note", data={"csrf_token": "forged", "note": "x"}).status_code == 403
    other, other_token = _signed_in(app, "investigator")
    assert 'id="case-note"' not in other.get(f"/cases/{case_id}").text  # not offered on another's case
    assert other.post(f"/cases/{case_id}/note", data={"csrf_token": other_token, "note": "x"}).status_code == 409
    panel, _ = _signed_in(app, "panel")
    shown = panel.get(f"/cases/{case_id}").text
    assert "landlord" not in shown and 'id="notes"' not in shown


def test_a_fraud_closing_names_its_typology_on_the_page(site):
    engine, app = site
    ivy, token = _signed_in(app, "ivy")
    case_id = int(ivy.post("/cases/claim-next", data={"csrf_token": token}).headers["location"].rsplit("/", 1)[1])
    with Session(engine) as session:
        case = session.get(Case, case_id)
    ivy.post(f"/cases/{case_id}/start", data={"csrf_token": token, "version": str(case.version)})
    page = ivy.get(f"/cases/{case_id}").text
    typology = TYPOLOGIES[case.subject_type][-1]
    assert f'<option value="{typology}">' in page
    version = re.search(r'name="version" value="([0-9]+)"', page).group(1)
    form = {"csrf_token": token, "version": version, "outcome": "fraud", "note": "Confirmed with the landlord."}
    refused = ivy.post(f"/cases/{case_id}/close", data=form)
    assert refused.status_code == 409 and "a fraud outcome names its typology" in refused.text
    assert ivy.post(f"/cases/{case_id}/close", data={**form, "typology": typology}).status_code == 303
    assert f'<span id="typology-shown">{typology.replace("_", " ")}</span>' in ivy.get(f"/cases/{case_id}").text


def _closed_as_fraud(app, engine, name: str) -> int:
    """A case claimed, reviewed and closed by ``name`` with a fraud outcome, through the pages."""
    client, token = _signed_in(app, name)
    case_id = int(client.post("/cases/claim-next", data={"csrf_token": token}).headers["location"].rsplit("/", 1)[1])
    with Session(engine) as session:
        case = session.get(Case, case_id)
    client.post(f"/cases/{case_id}/start", data={"csrf_token": token, "version": str(case.version)})
    assert client.post(f"/cases/{case_id}/close", data={
        "csrf_token": token, "version": str(case.version + 1), "outcome": "fraud", "note": "Found.",
        "typology": TYPOLOGIES[case.subject_type][0]}).status_code == 303
    return case_id


def test_a_fraud_closing_awaits_a_second_supervisor_s_confirmation(site):
    engine, app = site
    by_ivy = _closed_as_fraud(app, engine, "ivy")
    ivy, _ = _signed_in(app, "ivy")
    page = ivy.get(f"/cases/{by_ivy}").text
    assert 'id="awaiting">awaiting confirmation' in page and 'id="confirm"' not in page
    supervisor, token = _signed_in(app, "supervisor")
    assert by_ivy in _listed(supervisor.get("/cases", params={"view": "awaiting"}).text)
    page = supervisor.get(f"/cases/{by_ivy}").text
    version = re.search(r'name="version" value="([0-9]+)"', page).group(1)
    assert supervisor.post(f"/cases/{by_ivy}/confirm", data={"csrf_token": token, "version": version}).status_code == 303
    page = supervisor.get(f"/cases/{by_ivy}").text
    assert 'id="confirmed-by">supervisor</strong>' in page and 'id="awaiting"' not in page
    by_supervisor = _closed_as_fraud(app, engine, "supervisor")
    page = supervisor.get(f"/cases/{by_supervisor}").text
    assert 'id="confirm"' not in page and "you closed it, so another supervisor confirms" in page
    version = re.search(r'name="version" value="([0-9]+)"', page).group(1)
    refused = supervisor.post(f"/cases/{by_supervisor}/confirm", data={"csrf_token": token, "version": version})
    assert refused.status_code == 409 and "a supervisor other than the closer" in refused.text
    assert ("supervisor", "confirm outcome refused", str(by_supervisor)) in {entry[:3] for entry in _log(engine)}


def test_a_supervisor_unassigns_from_the_case_page_and_reads_the_workload(site):
    engine, app = site
    ivy, ivy_token = _signed_in(app, "ivy")
    case_id = int(ivy.post("/cases/claim-next", data={"csrf_token": ivy_token}).headers["location"].rsplit("/", 1)[1])
    supervisor, token = _signed_in(app, "supervisor")
    with Session(engine) as session:
        ivy_open = session.scalar(select(func.count()).select_from(Case).where(
            Case.assignee == "ivy", Case.status == "assigned"))
    workload = supervisor.get("/cases/workload").text
    assert f'<a href="/cases?assignee=ivy&amp;status=assigned">{ivy_open}</a>' in workload
    page = supervisor.get(f"/cases/{case_id}").text
    assert 'id="unassign"' in page and 'id="unassign"' not in ivy.get(f"/cases/{case_id}").text
    version = re.search(r'name="version" value="([0-9]+)"', page).group(1)
    assert supervisor.post(f"/cases/{case_id}/unassign", data={"csrf_token": token, "version": version}).status_code == 303
    with Session(engine) as session:
        assert (session.get(Case, case_id).status, session.get(Case, case_id).assignee) == ("new", None)
    assert ivy.get("/cases/workload").status_code == 403


def _claimed(client, token: str) -> int:
    return int(client.post("/cases/claim-next", data={"csrf_token": token}).headers["location"].rsplit("/", 1)[1])


def test_overdue_and_escalated_cases_are_shown_filtered_and_counted_for_the_supervisor(site):
    engine, app = site
    ivy, ivy_token = _signed_in(app, "ivy")
    late, other = _claimed(ivy, ivy_token), _claimed(ivy, ivy_token)
    days = app.state.site.settings.sla_days["assigned"]
    with Session(engine) as session, session.begin():
        # as if ivy had claimed it three days past its SLA
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days + 3)
        session.execute(update(Case).where(Case.id == late).values(status_since=at))
    due = (at + dt.timedelta(days=days)).date().isoformat()
    supervisor, token = _signed_in(app, "supervisor")
    overdue = supervisor.get("/cases?overdue=1").text
    assert _listed(overdue) == {late} and "overdue by 3 days" in overdue and f">{due}</time>" in overdue
    assert 'id="only-overdue" checked' in overdue
    page = ivy.get(f"/cases/{late}").text
    assert re.search(r'id="overdue">overdue by 3 days<', page) and f">{due}</time>" in page
    assert 'id="overdue"' not in ivy.get(f"/cases/{other}").text
    assert '<a href="/cases?assignee=ivy&amp;overdue=1" class="overdue">1 overdue</a>' in supervisor.get(
        "/cases/workload").text

    version = re.search(r'name="version" value="([0-9]+)"', page).group(1)
    assert ivy.post(f"/cases/{late}/escalate", data={"csrf_token": ivy_token, "version": version,
                                                    "reason": "The employer's letter looks forged."}).status_code == 303
    page = ivy.get(f"/cases/{late}").text
    assert 'id="escalated">escalated<' in page and "The employer&#39;s letter looks forged." in page
    assert 'id="deescalate"' not in page and 'id="escalate"' not in page
    escalated = supervisor.get("/cases?escalated=1").text
    assert _listed(escalated) == {late} and '<span class="badge escalated"' in escalated
    workload = supervisor.get("/cases/workload").text
    assert f'<a href="/cases/{late}">' in workload and "The employer&#39;s letter looks forged." in workload
    page = supervisor.get(f"/cases/{late}").text
    version = re.search(r'name="version" value="([0-9]+)"', page).group(1)
    assert 'id="deescalate"' in page
    assert supervisor.post(f"/cases/{late}/deescalate", data={"csrf_token": token, "version": version}
                           ).status_code == 303
    assert _listed(supervisor.get("/cases?escalated=1").text) == set()
    assert 'id="none-escalated"' in supervisor.get("/cases/workload").text
    log = {entry[:3] for entry in _log(engine)}
    assert {("ivy", "escalate case", str(late)), ("supervisor", "de-escalate case", str(late))} <= log


def test_a_supervisor_unassigns_several_cases_at_once_and_changed_or_refused_ones_are_named(site):
    engine, app = site
    ivy, ivy_token = _signed_in(app, "ivy")
    chosen = [_claimed(ivy, ivy_token) for _ in range(3)]
    supervisor, token = _signed_in(app, "supervisor")
    listed = supervisor.get("/cases?view=&assignee=ivy&status=assigned").text
    read = {int(case_id): f"{case_id}:{version}"
            for case_id, version in re.findall(r'name="case_id" value="([0-9]+):([0-9]+)"', listed)}
    assert set(chosen) <= set(read) and 'formaction="/cases/bulk-step"' in listed
    changed = chosen[2]
    version = re.search(r'name="version" value="([0-9]+)"', ivy.get(f"/cases/{changed}").text).group(1)
    assert ivy.post(f"/cases/{changed}/start", data={"csrf_token": ivy_token, "version": version}).status_code == 303
    new_case = _new_case(engine)
    response = supervisor.post("/cases/bulk-step", data={
        "csrf_token": token, "step": "unassign",
        "case_id": [read[case_id] for case_id in chosen] + [f"{new_case.id}:{new_case.version}"]})
    notice = html.unescape(supervisor.get(response.headers["location"]).text)
    assert "2 case(s) unassigned." in notice
    assert f"changed since the list was shown: case(s) {changed};" in notice
    assert f"does not allow this step on them (the access log says why): case(s) {new_case.id}." in notice
    with Session(engine) as session:
        assert [(session.get(Case, case_id).status, session.get(Case, case_id).assignee) for case_id in chosen] == [
            ("new", None), ("new", None), ("in_review", "ivy")]
    log = _log(engine)
    assert {("supervisor", "unassign case (bulk)", str(case_id)) for case_id in chosen[:2]} <= {
        entry[:3] for entry in log}
    assert ("supervisor", "unassign case (bulk) refused", str(new_case.id),
            f"case {new_case.id} is new: cannot unassign it") in log
    nothing = supervisor.post("/cases/bulk-step", data={"csrf_token": token, "step": "close",
                                                        "case_id": [f"{changed}:{int(version) + 1}"]})
    assert "Nothing was closed: closing cases at once needs a closing note" in supervisor.get(
        nothing.headers["location"]).text
    assert ivy.post("/cases/bulk-step", data={"csrf_token": ivy_token, "step": "unassign"}).status_code == 403
