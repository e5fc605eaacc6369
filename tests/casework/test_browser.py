"""The case-review page in headless Chromium (Debian's chromium and chromedriver, driven by Selenium)."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework import store
from casework.store import Case
from tests.casework.conftest import PASSWORD, case_site
from tests.casework.test_pages import _signed_in

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def _served(app) -> Iterator[str]:
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the case-review page did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for program in (CHROMEDRIVER, CHROMIUM):
        assert shutil.which(program), f"{program} is missing: `make system-packages` installs it"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def _sign_in(driver, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    _submit(driver, (By.ID, "sign-in"))


def _submit(driver, locator: tuple[str, str]) -> None:
    """Click a form's button or a link and wait until the next page has loaded in place of this one."""
    from selenium.webdriver.support.ui import WebDriverWait

    # a mark on this page's window: the next page starts with a fresh one
    driver.execute_script("window.leftBehind = true;")
    driver.find_element(*locator).click()
    WebDriverWait(driver, 30).until(lambda current: current.execute_script(
        "return window.leftBehind === undefined && document.readyState === 'complete';"))


def _shot(driver, directory: Path, name: str) -> Path:
    """A full-page screenshot (the window grown to the page's height)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, height))
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


@pytest.mark.slow
def test_an_investigator_works_a_case_a_supervisor_confirms_it_and_the_panel_sees_pseudonyms(scored, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    engine, app = case_site(scored, tmp_path)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with _served(app) as base:
        _sign_in(browser, base, "ivy")
        rows = browser.find_elements(By.CSS_SELECTOR, "#cases tbody tr")
        assert len(rows) == 50 and "Work list" in browser.find_element(By.TAG_NAME, "h1").text
        _shot(browser, shots, "1-work-list")

        _submit(browser, (By.ID, "claim-next"))
        assert browser.find_element(By.ID, "status").text == "assigned"
        assert browser.find_element(By.ID, "assignee").text == "ivy"
        reasons = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#reasons li")]
        bars = browser.find_elements(By.CSS_SELECTOR, "#waterfall rect")
        income = browser.find_elements(By.CSS_SELECTOR, "#records h3")
        with Session(engine) as session:
            case = session.scalars(select(Case).where(Case.assignee == "ivy")).one()
        assert reasons and reasons == case.reasons.split(" | ")
        assert len(bars) >= 5 and len(income) == 4
        _shot(browser, shots, "2-case-claimed")

        # the investigator: notes during the review, "My cases" and the search
        browser.find_element(By.ID, "case-note").send_keys("Asked the employer for the last three payslips.")
        _submit(browser, (By.ID, "add-note"))
        browser.find_element(By.ID, "case-note").send_keys("Payslips received: earnings twice those declared.")
        _submit(browser, (By.ID, "add-note"))
        notes = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#note-list li")]
        assert len(notes) == 2 and notes[0].startswith("ivy · ") and "last three payslips" in notes[0]
        assert "Payslips received" in browser.find_element(By.ID, "events").text
        _shot(browser, shots, "3-case-with-notes")
        _submit(browser, (By.LINK_TEXT, "← Work list"))
        _submit(browser, (By.ID, "my-cases"))
        assert [link.text for link in browser.find_elements(By.CSS_SELECTOR, "#cases tbody a")] == [case.subject_ref]
        _shot(browser, shots, "4-my-cases")
        browser.find_element(By.ID, "search-query").send_keys(case.subject_ref.lower())
        _submit(browser, (By.ID, "search"))
        assert case.subject_ref in [link.text for link in browser.find_elements(By.CSS_SELECTOR, "#cases tbody a")]
        _submit(browser, (By.LINK_TEXT, case.subject_ref))

        _submit(browser, (By.ID, "start-review"))
        Select(browser.find_element(By.ID, "outcome")).select_by_value("fraud")
        Select(browser.find_element(By.ID, "typology")).select_by_index(1)
        browser.find_element(By.ID, "note").send_keys("Earnings confirmed with the employer; referred.")
        _submit(browser, (By.ID, "close-case"))
        assert browser.find_element(By.ID, "status").text == "closed"
        assert browser.find_element(By.ID, "outcome-shown").text == "fraud"
        assert browser.find_element(By.ID, "awaiting").text == "awaiting confirmation"
        events = browser.find_element(By.ID, "events").text
        assert "in review" in events and "Earnings confirmed" in events
        _shot(browser, shots, "5-case-closed")

        # the supervisor: four eyes on the fraud outcome
        _submit(browser, (By.CSS_SELECTOR, ".signout button"))
        _sign_in(browser, base, "supervisor")
        _submit(browser, (By.ID, "awaiting-confirmation"))
        _submit(browser, (By.LINK_TEXT, case.subject_ref))
        _submit(browser, (By.ID, "confirm"))
        assert browser.find_element(By.ID, "confirmed-by").text == "supervisor"
        assert not browser.find_elements(By.ID, "awaiting")
        _submit(browser, (By.LINK_TEXT, "← Work list"))
        _submit(browser, (By.ID, "workload-link"))
        _shot(browser, shots, "6-workload")

        # the supervisor: an overdue case, an escalated one, a step taken on both at once
        with Session(engine) as session, session.begin():
            run_id = store.latest_run(session).run_id
            late, worried = store.claim_next(session, run_id, "ivy"), store.claim_next(session, run_id, "ivy")
            days = scored["settings"].case_store.sla_days["assigned"]
            # as if ivy had claimed it three days past the time an assigned case has to start its review
            session.execute(update(Case).where(Case.id == late.id).values(
                status_since=store.now() - dt.timedelta(days=days + 3)))
            session.expunge_all()
        browser.get(f"{base}/cases/{worried.id}")
        browser.find_element(By.ID, "escalation-reason-input").send_keys("The claimant's landlord is a colleague.")
        _submit(browser, (By.ID, "escalate"))
        assert browser.find_element(By.ID, "escalated").text == "escalated"
        assert "landlord is a colleague" in browser.find_element(By.ID, "escalation").text
        browser.get(f"{base}/cases?assignee=ivy")
        rows = {row.find_element(By.CSS_SELECTOR, "a").text: row.text
                for row in browser.find_elements(By.CSS_SELECTOR, "#cases tbody tr")}
        assert "overdue by 3 days" in rows[late.subject_ref] and "escalated" in rows[worried.subject_ref]
        _shot(browser, shots, "8-work-list-overdue-escalated")
        browser.find_element(By.ID, "only-overdue").click()
        _submit(browser, (By.CSS_SELECTOR, ".filters button"))
        assert [link.text for link in browser.find_elements(By.CSS_SELECTOR, "#cases tbody a")] == [late.subject_ref]
        _submit(browser, (By.LINK_TEXT, late.subject_ref))
        assert browser.find_element(By.ID, "overdue").text == "overdue by 3 days"
        _shot(browser, shots, "9-case-overdue")
        _submit(browser, (By.LINK_TEXT, "← Work list"))
        _submit(browser, (By.ID, "workload-link"))
        ivy_row = next(row.text for row in browser.find_elements(By.CSS_SELECTOR, "#workload tbody tr")
                       if row.text.startswith("ivy "))
        assert ivy_row.endswith("1 overdue")
        assert worried.subject_ref in browser.find_element(By.ID, "escalated").text
        _shot(browser, shots, "10-workload-overdue-escalated")
        browser.get(f"{base}/cases?assignee=ivy&status=assigned")
        for case_id in (late.id, worried.id):
            browser.find_element(By.CSS_SELECTOR, f'input[aria-label="select case {case_id}"]').click()
        Select(browser.find_element(By.ID, "bulk-step-choice")).select_by_value("unassign")
        _submit(browser, (By.ID, "bulk-step"))
        assert "2 case(s) unassigned." in browser.find_element(By.CSS_SELECTOR, ".notice").text
        browser.get(f"{base}/cases/{worried.id}")
        _submit(browser, (By.ID, "deescalate"))
        assert not browser.find_elements(By.ID, "escalated")
        with Session(engine) as session:
            assert {session.get(Case, case_id).status for case_id in (late.id, worried.id)} == {"new"}

        _submit(browser, (By.CSS_SELECTOR, ".signout button"))
        _sign_in(browser, base, "panel")
        browser.get(f"{base}/cases")
        with Session(engine) as session:
            refs = set(session.scalars(select(Case.subject_ref)))
        assert not any(ref in browser.page_source for ref in refs)
        assert not browser.find_elements(By.ID, "claim-next")
        _submit(browser, (By.CSS_SELECTOR, "#cases tbody a"))
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("S-")
        assert not browser.find_elements(By.ID, "records") and not browser.find_elements(By.ID, "actions")
        assert "Earnings confirmed" not in browser.page_source  # a closing note may name people
        assert "payslips" not in browser.page_source.lower()  # nor may a note
        _shot(browser, shots, "7-panel-case")
        # the panel: no search, since it sees no identifier
        assert not browser.find_elements(By.ID, "search-query")
        browser.get(f"{base}/cases/search?q={case.subject_ref}")
        assert "Not allowed" in browser.find_element(By.TAG_NAME, "h1").text
        browser.get(f"{base}/admin/log")
        assert "Not allowed" in browser.find_element(By.TAG_NAME, "h1").text
    print(f"\nscreenshots of the case-review page: {shots}")


@pytest.mark.slow
def test_an_administrator_disables_an_account_and_finds_it_in_the_access_log(scored, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _, app = case_site(scored, tmp_path)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with _served(app) as base:
        _signed_in(app, "ivy")  # a live session of hers, elsewhere
        _sign_in(browser, base, "admin")
        rows = {row.find_element(By.CSS_SELECTOR, "td a").text: row.text
                for row in browser.find_elements(By.CSS_SELECTOR, "#accounts tbody tr")}
        assert set(rows) == {"investigator", "supervisor", "panel", "admin", "ivy"} and "never" in rows["panel"]
        _shot(browser, shots, "5-accounts")
        _submit(browser, (By.LINK_TEXT, "ivy"))
        assert "last signed in" in browser.find_element(By.ID, "facts").text
        _submit(browser, (By.ID, "disable"))
        assert "Account ivy disabled; 1 session(s) ended." in browser.find_element(By.CSS_SELECTOR, ".notice").text
        _shot(browser, shots, "6-account-disabled")
        _submit(browser, (By.LINK_TEXT, "Access log"))
        Select(browser.find_element(By.NAME, "action")).select_by_visible_text("disable account")
        _submit(browser, (By.CSS_SELECTOR, "#log-filter button"))
        entries = browser.find_elements(By.CSS_SELECTOR, "#log tbody tr")
        assert len(entries) == 1 and "ivy" in entries[0].text and "1 session(s) ended" in entries[0].text
        assert browser.find_element(By.ID, "export").get_attribute("href").endswith(
            "/admin/log.csv?action=disable+account")
        browser.get(f"{base}/admin/log")
        _shot(browser, shots, "7-access-log")
    print(f"\nscreenshots of the administrator's pages: {shots}")
