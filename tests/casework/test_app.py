"""The case-review application over HTTP (Starlette's test client): every route with every role."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import store
from casework.app import ROUTE_ROLES, SECURE_HEADERS
from casework.auth import ROLES
from casework.charts import WATERFALL_FEATURES
from casework.store import Case, CaseDetail
from features.definitions import FEATURES_BY_NAME
from features.reasons import format_feature_value
from tests.casework.conftest import PASSWORD, case_site

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def site(scored, tmp_path_factory):
    return case_site(scored, tmp_path_factory.mktemp("app"))


def _signed_in(app, name: str) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    token = CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text
    session_cookie = next(cookie for cookie in response.headers.get_list("set-cookie")
                          if cookie.startswith("cf_session="))
    assert {"httponly", "samesite=strict"} <= set(session_cookie.lower().split("; "))
    return client, CSRF.search(client.get("/admin/users" if name == "admin" else "/cases" if name != "panel"
                                          else "/panel").text).group(1)


def _first_case(engine) -> Case:
    with Session(engine) as session:
        return session.scalars(select(Case).order_by(Case.rank)).first()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_each_route_serves_its_roles_only(site, role):
    engine, app = site
    client, token = _signed_in(app, role)
    case = _first_case(engine)
    for (method, route), allowed in ROUTE_ROLES.items():
        path = route.replace("{case_id}", str(case.id)).replace("{name}", role)  # its own account: refused
        if method == "GET":
            response = client.get(path)
        else:
            # a form the role may send but with the wrong version: refused by the store, not the role
            response = client.post(path, data={"csrf_token": token, "version": "-1", "assignee": role,
                                               "case_id": [str(case.id)], "name": "", "role": "",
                                               "password": ""})
        if role in allowed:
            assert response.status_code in (200, 303, 409), (method, path, response.status_code)
        else:
            assert response.status_code == 403, (method, path, response.status_code)
            assert "cannot open this page" in response.text


@pytest.mark.slow
def test_signed_out_visitors_are_sent_to_sign_in_and_posts_need_the_session_token(site):
    engine, app = site
    client = TestClient(app, follow_redirects=False)
    response = client.get("/cases")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    for name, value in SECURE_HEADERS.items():
        assert response.headers[name] == value
    assert client.post("/cases/claim-next").status_code == 401
    signed_in, _ = _signed_in(app, "ivy")
    assert signed_in.post("/cases/claim-next", data={"csrf_token": "forged"}).status_code == 403
    refused = client.post("/login", data={"username": "ivy", "password": PASSWORD})
    assert refused.status_code == 403
    token = CSRF.search(client.get("/login").text).group(1)
    wrong = client.post("/login", data={"username": "ivy", "password": "wrong password", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong password" in wrong.text


@pytest.mark.slow
def test_the_panel_sees_pseudonyms_and_no_records(site, scored):
    engine, app = site
    client, _ = _signed_in(app, "panel")
    case = _first_case(engine)
    listing = client.get("/cases").text
    page = client.get(f"/cases/{case.id}").text
    with Session(engine) as session:
        refs = list(session.scalars(select(Case.subject_ref)))
    assert case.pseudonym in listing and case.pseudonym in page
    assert not any(ref in listing or ref in page for ref in refs)
    with Session(engine) as session:
        records = session.get(CaseDetail, case.id).records
    for marker in ("nino", "surname", "postcode", "uprn"):
        for value in re.findall(rf'"{marker}": "([^"]+)"', records):
            assert value not in page, (marker, value)
    assert 'id="records"' not in page and 'id="actions"' not in page
    investigator, _ = _signed_in(app, "ivy")
    assert case.subject_ref in investigator.get(f"/cases/{case.id}").text


@pytest.mark.slow
def test_the_waterfall_names_features_by_their_labels_and_writes_values_by_unit(site):
    engine, app = site
    client, _ = _signed_in(app, "ivy")
    with Session(engine) as session:
        case = session.scalars(select(Case).where(Case.control.is_(False)).order_by(Case.rank)).first()
        explanation = json.loads(session.get(CaseDetail, case.id).explanation)
    page = client.get(f"/cases/{case.id}").text
    chart = page[page.index('<svg id="waterfall"'):page.index("</svg>", page.index('<svg id="waterfall"'))]
    drawn = re.sub(r"<title>[^<]*</title>", "", chart)  # the code names stay only as tooltips
    shown = sorted(explanation["features"], key=lambda row: -abs(row[2]))[:WATERFALL_FEATURES]
    assert shown
    for name, value, _ in shown:
        assert f"<title>{name}</title>" in chart
        assert name not in drawn and name.replace("_", " ") not in drawn
        label = html.escape(FEATURES_BY_NAME[name].label, quote=False)
        detail = html.escape(format_feature_value(FEATURES_BY_NAME[name], value), quote=False)
        assert f'{label} <tspan class="detail">{detail}</tspan>' in drawn


def _new_cases(engine, count: int) -> list[Case]:
    with Session(engine) as session:
        return list(session.scalars(select(Case).where(Case.status == "new").order_by(Case.rank).limit(count)))


@pytest.mark.slow
def test_a_supervisor_assigns_several_cases_at_once(site):
    engine, app = site
    client, token = _signed_in(app, "supervisor")
    chosen = _new_cases(engine, 3)
    response = client.post("/cases/bulk-assign", data={"csrf_token": token, "assignee": "ivy",
                                                        "case_id": [f"{case.id}:{case.version}" for case in chosen]})
    assert response.status_code == 303
    assert "3 case(s) assigned to ivy." in client.get(response.headers["location"]).text
    with Session(engine) as session:
        assert {session.get(Case, case.id).assignee for case in chosen} == {"ivy"}


@pytest.mark.slow
def test_bulk_assign_skips_and_names_the_cases_that_changed_since_the_list_was_shown(site):
    engine, app = site
    seen = _new_cases(engine, 2)
    investigator, investigator_token = _signed_in(app, "ivy")
    assert investigator.post(f"/cases/{seen[0].id}/assign", data={
        "csrf_token": investigator_token, "version": str(seen[0].version)}).status_code == 303
    supervisor, token = _signed_in(app, "supervisor")
    response = supervisor.post("/cases/bulk-assign", data={"csrf_token": token, "assignee": "investigator",
                                                           "case_id": [f"{case.id}:{case.version}" for case in seen]})
    notice = html.unescape(supervisor.get(response.headers["location"]).text)
    assert "1 case(s) assigned to investigator." in notice
    assert f"changed since the list was shown: case(s) {seen[0].id};" in notice
    with Session(engine) as session:
        assert session.get(Case, seen[0].id).assignee == "ivy"
        assert session.get(Case, seen[1].id).assignee == "investigator"


@pytest.mark.slow
@pytest.mark.parametrize("assignee", ["panel", "admin"])
def test_cases_are_assigned_only_to_accounts_that_can_open_them(site, assignee):
    engine, app = site
    case = _new_cases(engine, 1)[0]
    supervisor, token = _signed_in(app, "supervisor")
    response = supervisor.post("/cases/bulk-assign", data={"csrf_token": token, "assignee": assignee,
                                                           "case_id": [f"{case.id}:{case.version}"]})
    assert f"Nothing was assigned: {assignee} is not an investigator" in supervisor.get(
        response.headers["location"]).text
    one = supervisor.post(f"/cases/{case.id}/assign", data={"csrf_token": token, "version": str(case.version),
                                                            "assignee": assignee})
    assert one.status_code == 409 and "not an investigator or supervisor account" in one.text
    with Session(engine) as session, session.begin():
        with pytest.raises(store.CaseworkError, match="not an investigator or supervisor account"):
            store.assign(session, case.id, case.version, "supervisor", assignee)
    with Session(engine) as session:
        assert session.get(Case, case.id).assignee is None


@pytest.mark.slow
def test_a_stale_form_is_refused_naming_who_changed_the_case(site):
    engine, app = site
    case = _new_cases(engine, 1)[0]
    investigator, investigator_token = _signed_in(app, "ivy")
    supervisor, supervisor_token = _signed_in(app, "supervisor")
    assert f'name="version" value="{case.version}"' in supervisor.get(f"/cases/{case.id}").text
    assert investigator.post(f"/cases/{case.id}/assign", data={
        "csrf_token": investigator_token, "version": str(case.version)}).status_code == 303
    stale = supervisor.post(f"/cases/{case.id}/assign", data={
        "csrf_token": supervisor_token, "version": str(case.version), "assignee": "investigator"})
    assert stale.status_code == 409
    assert re.search(r"was changed by ivy at [0-9: -]+ UTC since you opened it", stale.text)
    with Session(engine) as session:
        assert session.get(Case, case.id).assignee == "ivy"


@pytest.mark.slow
def test_the_panel_reaches_each_run_s_drift_page_from_its_figures(site):
    _, app = site
    client, _ = _signed_in(app, "panel")
    figures = client.get("/panel").text
    link = re.search(r'href="(/panel/drift\?run_id=[^"]+)"', figures).group(1)
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200 and "population stability" in page.text.lower()
    assert "script-src" not in page.headers["content-security-policy"]  # nothing runs on it
    assert client.get("/panel/drift?run_id=no-such-run").status_code == 404
    investigator, _ = _signed_in(app, "ivy")
    assert investigator.get(link).status_code == 403
