"""The console as its users meet it in chromium: signing in, the overview's charts, Try it,
tokens, and what a read-only user can neither see nor do. Every page axe-clean, nothing
scrolling sideways at 640 px, a screenshot of each."""

import re
from collections import Counter

import requests
from selenium.webdriver.common.by import By

from tests import support
from tests.browser.conftest import (
    check_page,
    console_user,
    session_of,
    sign_in,
    signed_in,
    wait_for,
)

SPAM = "WINNER!! You have won a free prize, call 09061701461 now to claim your cash"


def test_sign_in_refuses_a_wrong_password_and_lets_the_right_one_in(browser, stack, screenshots):
    username = console_user(stack, "read")
    browser.get(f"{stack.web}/console/")
    assert browser.current_url == f"{stack.web}/console/sign-in/?next=/console/"
    check_page(browser, "sign-in", screenshots)
    sign_in(browser, stack, username, password="not the password")
    error = wait_for(browser, "[data-sign-in-error]")
    assert error.text == "Wrong user name or password."
    sign_in(browser, stack, username)
    wait_for(browser, "form.sign-out")
    assert browser.current_url == f"{stack.web}/console/"
    assert browser.find_element(By.CSS_SELECTOR, ".who").text == username


def test_the_overview_draws_a_bar_per_label_and_per_source(browser, stack, screenshots):
    signed_in(browser, stack, "read")
    browser.get(f"{stack.web}/console/")
    rows = support.read_tsv("sms_spam.tsv")
    by_label = Counter(row["label"] for row in rows)
    by_label["ham"] += 1  # the row posted to /api/data/
    bars = {
        chart: {
            bar.get_attribute("data-key"): float(bar.get_attribute("data-value"))
            for bar in browser.find_elements(
                By.CSS_SELECTOR, f'[data-chart="{chart}"] [data-point]'
            )
        }
        for chart in ("rows-by-label", "rows-by-source")
    }
    assert bars["rows-by-label"] == {label: float(count) for label, count in by_label.items()}
    assert bars["rows-by-source"] == {"import": float(len(rows)), "api": 1.0}
    active = browser.find_element(By.CSS_SELECTOR, "[data-active-version]")
    assert active.get_attribute("data-active-version") == stack.model_id
    assert "linear_svm" in active.text
    job = browser.find_element(By.CSS_SELECTOR, f'[data-job="{stack.job_id}"]')
    assert job.get_attribute("data-state") == "succeeded"
    assert "100 %" in job.text
    health = {
        item.get_attribute("data-health"): item.get_attribute("data-ok")
        for item in browser.find_elements(By.CSS_SELECTOR, "[data-health]")
    }
    assert health == {
        "database": "true",
        "redis": "true",
        "algorithm": "true",
        "predictions": "true",
    }
    check_page(browser, "overview", screenshots)


def test_try_it_classifies_a_text_with_its_scores_and_marked_terms(browser, stack, screenshots):
    signed_in(browser, stack, "read", "predict")
    browser.get(f"{stack.web}/console/try/")
    options = browser.find_elements(By.CSS_SELECTOR, "#model_id option")
    assert [option.get_attribute("value") for option in options] == ["", stack.model_id]
    browser.find_element(By.ID, "text").send_keys(SPAM)
    browser.find_element(By.CSS_SELECTOR, "form.stacked button").click()
    label = wait_for(browser, "[data-predicted-label]")
    # Answered through htmx, in place: the form is the same element, still filled in.
    assert browser.find_element(By.ID, "text").get_attribute("value") == SPAM
    assert label.text == "spam"
    scores = browser.find_elements(By.CSS_SELECTOR, '[data-chart="scores"] [data-point]')
    assert [bar.get_attribute("data-key") for bar in scores] == ["spam", "ham"]
    assert abs(sum(float(bar.get_attribute("data-value")) for bar in scores) - 1) < 1e-6
    marked = browser.find_elements(By.CSS_SELECTOR, "[data-explained] mark[data-term]")
    assert marked, "no term of the explanation is marked in the text"
    assert all(mark.text.lower() in SPAM.lower() for mark in marked)
    check_page(browser, "try-it", screenshots)


def test_an_admin_creates_a_token_that_works_and_revokes_it(browser, stack, screenshots):
    signed_in(browser, stack, "admin")
    browser.get(f"{stack.web}/console/tokens/")
    browser.find_element(By.ID, "user").send_keys("reporting")
    browser.find_element(By.ID, "name").send_keys("dashboards")
    browser.find_element(By.ID, "scope-read").click()
    browser.find_element(By.ID, "expires_in_days").send_keys("30")
    browser.find_element(By.CSS_SELECTOR, 'form.stacked button[type="submit"]').click()
    key = wait_for(browser, "output[data-key]").text
    fingerprint = browser.find_element(By.CSS_SELECTOR, "[data-created-token]").get_attribute(
        "data-created-token"
    )
    check_page(browser, "tokens", screenshots)
    headers = {"Authorization": f"Token {key}"}
    assert requests.get(f"{stack.web}/api/models/", headers=headers, timeout=10).status_code == 200
    browser.get(f"{stack.web}/console/tokens/")
    assert key not in browser.page_source
    browser.find_element(By.CSS_SELECTOR, f'[aria-label="Revoke token {fingerprint}"]').click()
    wait_for(browser, ".messages")
    row = browser.find_element(By.CSS_SELECTOR, f'[data-token="{fingerprint}"]')
    assert "revoked" in row.text


def test_a_read_only_user_sees_no_change_control_and_is_refused_a_post(browser, stack, screenshots):
    signed_in(browser, stack, "read")
    browser.get(f"{stack.web}/console/")
    nav = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "header nav a")]
    assert nav == ["Overview", "Data", "Training", "Versions"]
    forms = browser.find_elements(By.CSS_SELECTOR, "form")
    assert [form.get_attribute("action") for form in forms] == [f"{stack.web}/console/sign-out/"]
    for path in ("/console/tokens/", "/console/try/"):
        browser.get(f"{stack.web}{path}")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"
        assert not browser.find_elements(By.CSS_SELECTOR, "main form, main button")
    check_page(browser, "not-allowed", screenshots)
    # What the page never offered, posted with the browser's own session and CSRF token.
    session = session_of(browser)
    token = browser.find_element(By.NAME, "csrfmiddlewaretoken").get_attribute("value")
    headers = {"Referer": f"{stack.web}/console/"}
    for path, form in (
        ("/console/tokens/", {"user": "mallory", "scopes": "admin"}),
        ("/console/try/", {"text": SPAM}),
    ):
        answer = session.post(
            f"{stack.web}{path}",
            data={**form, "csrfmiddlewaretoken": token},
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 403, (path, answer.text[:300])
        assert "needs the" in answer.text
    listed = requests.get(f"{stack.web}/api/tokens/", headers=stack.headers, timeout=10).json()
    assert "mallory" not in {token["user"] for token in listed["results"]}


def test_the_static_files_come_from_the_app_itself(browser, stack):
    browser.get(f"{stack.web}/console/sign-in/")
    sources = [
        element.get_attribute("src") or element.get_attribute("href")
        for element in browser.find_elements(By.CSS_SELECTOR, "script[src], link[rel=stylesheet]")
    ]
    assert sources and all(re.match(rf"{stack.web}/static/", source) for source in sources)
    for source in sources:
        assert requests.get(source, timeout=10).status_code == 200
