"""The administrator's pages over HTTP: accounts changed and refused, the access log filtered and exported."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from tests.casework.conftest import PASSWORD, add_accounts, case_site
from tests.casework.test_pages import _log, _signed_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def site(scored, tmp_path):
    """A store of its own per test: failed sign-ins from the test client's address would carry over."""
    return case_site(scored, tmp_path)


def _sign_in_fails(app, name: str, password: str = PASSWORD) -> bool:
    client = TestClient(app, follow_redirects=False)
    token = CSRF.search(client.get("/login").text).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token}
                       ).status_code == 401


def test_an_administrator_disables_a_signed_in_account_and_re_enables_it(site):
    engine, app = site
    add_accounts(engine, {"dora": "investigator"})
    dora, _ = _signed_in(app, "dora")
    admin, token = _signed_in(app, "admin")
    listing = admin.get("/admin/users").text
    assert re.search(r'<a href="/admin/users/dora">dora</a>.*?active.*?\d{4}-\d\d-\d\d \d\d:\d\d', listing, re.S)
    done = admin.post("/admin/users/dora/disable", data={"csrf_token": token})
    assert done.status_code == 303
    page = admin.get(done.headers["location"]).text
    assert "Account dora disabled; 1 session(s) ended." in page and "<strong>Disabled</strong> since" in page
    # her copied cookie is refused at once, and her password no longer signs in
    assert dora.get("/cases").headers["location"].startswith("/login")
    assert _sign_in_fails(app, "dora")
    assert ("admin", "disable account", "dora", "1 session(s) ended") in _log(engine)
    assert admin.post("/admin/users/dora/enable", data={"csrf_token": token}).status_code == 303
    assert not _sign_in_fails(app, "dora")


def test_changes_to_ones_own_account_are_refused_shown_and_logged(site):
    engine, app = site
    admin, token = _signed_in(app, "admin")
    for action, form, logged in (("disable", {}, "disable account refused"),
                                 ("delete", {"confirm": "admin"}, "delete account refused"),
                                 ("role", {"role": "panel"}, "change role refused")):
        refused = admin.post(f"/admin/users/admin/{action}", data={"csrf_token": token, **form})
        assert refused.status_code == 409
        assert 'role="alert">you cannot ' in refused.text and "your own account: ask another administrator" in refused.text
        assert (("admin", logged, "admin") in {entry[:3] for entry in _log(engine)})
    assert admin.post("/admin/users/ivy/disable", data={"csrf_token": "forged"}).status_code == 403
    supervisor, supervisor_token = _signed_in(app, "supervisor")
    assert supervisor.post("/admin/users/ivy/disable", data={"csrf_token": supervisor_token}).status_code == 403
    assert admin.get("/admin/users/nobody").status_code == 404


def test_a_role_change_a_password_reset_and_a_deletion_from_the_account_page(site):
    engine, app = site
    add_accounts(engine, {"eve": "investigator"})
    eve, _ = _signed_in(app, "eve")
    admin, token = _signed_in(app, "admin")
    assert admin.post("/admin/users/eve/role", data={"csrf_token": token, "role": "panel"}).status_code == 303
    assert eve.get("/panel").status_code == 200  # the role is read on every request
    assert ("admin", "change role", "eve", "investigator to panel") in _log(engine)
    reset = admin.post("/admin/users/eve/password", data={"csrf_token": token, "password": "another passphrase"})
    assert "Password of eve reset; 1 session(s) ended." in admin.get(reset.headers["location"]).text
    assert _sign_in_fails(app, "eve") and not _sign_in_fails(app, "eve", "another passphrase")
    unconfirmed = admin.post("/admin/users/eve/delete", data={"csrf_token": token, "confirm": "someone"})
    assert unconfirmed.status_code == 409 and "type the account&#39;s name, eve, to confirm" in unconfirmed.text
    assert admin.post("/admin/users/eve/delete", data={"csrf_token": token, "confirm": "eve"}).status_code == 303
    listing = admin.get("/admin/users").text
    assert re.search(r'>eve</a></td><td>panel</td>\s*<td>deleted \d{4}-', listing)
    assert "A deleted account cannot be changed" in admin.get("/admin/users/eve").text


def test_the_access_log_is_filtered_and_exported_with_formula_text_made_inert(site):
    engine, app = site
    assert _sign_in_fails(app, "=HYPERLINK(\"http://x\")", "wrong password!")
    admin, _ = _signed_in(app, "admin")
    page = admin.get("/admin/log", params={"action": "login", "outcome": "refused"}).text
    assert "=HYPERLINK" in page and "<td>login</td>" not in page
    counted = re.search(r'id="log-count">([0-9,]+) entr', page)
    assert counted and int(counted.group(1)) >= 1
    assert 'href="/admin/log.csv?action=login&amp;outcome=refused"' in page
    export = admin.get("/admin/log.csv", params={"action": "login", "outcome": "refused"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith('attachment; filename="access_log_')
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == int(counted.group(1)) and {row["action"] for row in rows} == {"login refused"}
    assert "'=HYPERLINK(\"http://x\")" in {row["actor"] for row in rows}
    assert ("admin", "export access log", "action login, outcome refused", f"{len(rows)} rows") in _log(engine)
    bad = admin.get("/admin/log", params={"since": "yesterday"})
    assert bad.status_code == 400 and "the from date &#39;yesterday&#39; is not a date (YYYY-MM-DD)" in bad.text
    assert admin.get("/admin/log.csv", params={"outcome": "maybe"}).status_code == 400
