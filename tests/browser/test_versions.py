"""The Versions page in chromium on the real stack: a version scheduled and evaluated through
its confirmations, its heatmap and accuracy lines drawn from what the services hold; the
older version activated and answering; a shadow set and the split cleared by an admin; and
a reader who sees no change and is refused one."""

import requests
from selenium.webdriver.common.by import By

from tests import support
from tests.browser.conftest import check_page, session_of, signed_in, wait_for

# (predicted, true) pairs of feedback on the newer version: live accuracy 2/3.
FEEDBACK = [("ham", "ham"), ("spam", "spam"), ("ham", "spam")]
CRON = "*/5 * * * *"
SPAM = "WINNER!! You have won a free prize, call 09061701461 now to claim your cash"


def _get(stack, path: str) -> dict:
    answer = requests.get(f"{stack.web}{path}", headers=stack.headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _newer_version(stack) -> str:
    """A version trained after the stack's first, trained now through the API if there is
    none yet (the Training page's tests make one when they run first)."""
    newer = [m["model_id"] for m in _get(stack, "/api/models/")["results"]]
    if newer[0] != stack.model_id:
        return newer[0]
    body = {"algorithm": "naive_bayes"}
    job = requests.post(
        f"{stack.web}/api/train/", json=body, headers=stack.headers, timeout=30
    ).json()
    done = support.wait_until(
        lambda: (found := _get(stack, f"/api/jobs/{job['job_id']}/"))["end_time"] and found,
        120,
        "training",
    )
    assert done["state"] == "succeeded", done
    return done["model_id"]


def _confirm(browser, action: str) -> str:
    """Press the button of the form posting to `action`, then the confirmation's; the
    message the version's page shows after."""
    browser.find_element(By.CSS_SELECTOR, f'form[action$="/{action}/"] button').click()
    wait_for(browser, "[data-confirm-page]")
    browser.find_element(By.CSS_SELECTOR, "[data-confirm]").click()
    return wait_for(browser, ".messages").text


def _points(browser) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for point in browser.find_elements(By.CSS_SELECTOR, '[data-chart="accuracy"] [data-point]'):
        series = found.setdefault(point.get_attribute("data-series"), {})
        series[point.get_attribute("data-key")] = float(point.get_attribute("data-value"))
    return found


def test_a_version_scheduled_and_evaluated_shows_its_heatmap_and_accuracy_lines(
    browser, stack, screenshots
):
    model_id = _newer_version(stack)
    support.give_feedback(stack.env, model_id, FEEDBACK)
    signed_in(browser, stack, "write")
    browser.get(f"{stack.web}/console/versions/{model_id}/")
    cron = browser.find_element(By.ID, "cron_expression")
    cron.clear()
    cron.send_keys(CRON)
    browser.find_element(By.CSS_SELECTOR, 'form[action$="/schedule/"] button').click()
    wait_for(browser, "[data-confirm-page]")
    check_page(browser, "version-confirm", screenshots)
    browser.find_element(By.CSS_SELECTOR, "[data-confirm]").click()
    assert f"scheduled: {CRON} (UTC)" in wait_for(browser, ".messages").text
    try:
        assert _get(stack, f"/api/schedules/{model_id}/")["cron_expression"] == CRON
        # The schedule's tick, now rather than in five minutes.
        support.scheduled_check(stack.env, model_id)
        assert "Evaluation queued" in _confirm(browser, "evaluate")
        browser.execute_script("window.sameDocument = true;")
        drawn = support.wait_until(
            lambda: browser.find_elements(By.CSS_SELECTOR, '[data-chart="confusion"] [data-cell]'),
            60,
            "the evaluation's heatmap",
        )
        assert browser.execute_script("return window.sameDocument === true;")
        # A row and a column per label: the version's, and any other the data holds.
        labels = list(dict.fromkeys(cell.get_attribute("data-row") for cell in drawn))
        assert set(_get(stack, f"/api/models/{model_id}/")["labels"]) <= set(labels)
        assert [(c.get_attribute("data-row"), c.get_attribute("data-col")) for c in drawn] == [
            (true, predicted) for true in labels for predicted in labels
        ]
        # Evaluated on the whole data table: the cells count every row once.
        rows = _get(stack, "/api/data/")["count"]
        assert sum(int(cell.get_attribute("data-value")) for cell in drawn) == rows
        browser.get(f"{stack.web}/console/versions/{model_id}/")
        points = _points(browser)
        versions = [m["model_id"] for m in _get(stack, "/api/models/")["results"]][:8]
        assert set(points["holdout"]) == set(versions)
        check = _get(stack, f"/api/results/{model_id}/")["accuracy"]
        assert points["checks"][model_id] == check
        assert points["live"][model_id] == 2 / 3
        check_page(browser, "versions", screenshots)
    finally:
        requests.delete(f"{stack.web}/api/schedules/{model_id}/", headers=stack.headers, timeout=10)


def test_the_older_version_activated_through_its_confirmation_answers(browser, stack, screenshots):
    newer = _newer_version(stack)
    requests.post(f"{stack.web}/api/models/{newer}/activate/", headers=stack.headers, timeout=10)
    signed_in(browser, stack, "write", "predict")
    browser.get(f"{stack.web}/console/versions/{stack.model_id}/")
    assert f"Version {stack.model_id} is active" in _confirm(browser, "activate")
    row = browser.find_element(By.CSS_SELECTOR, f'[data-version="{stack.model_id}"]')
    assert row.find_element(By.CSS_SELECTOR, "[data-serves]").text == "active"
    check_page(browser, "version-activated", screenshots)
    browser.get(f"{stack.web}/console/try/")
    browser.find_element(By.ID, "text").send_keys(SPAM)
    browser.find_element(By.CSS_SELECTOR, "form.stacked button").click()
    wait_for(browser, "[data-predicted-label]")
    answered = browser.find_element(By.CSS_SELECTOR, "#result .hint code").text
    assert answered == stack.model_id
    predicted = requests.post(
        f"{stack.web}/api/predict/", json={"text": SPAM}, headers=stack.headers, timeout=10
    )
    assert predicted.json()["model_id"] == stack.model_id


def test_an_admin_makes_a_version_the_shadow_and_clears_the_split(browser, stack, screenshots):
    newer = _newer_version(stack)
    requests.post(
        f"{stack.web}/api/models/{stack.model_id}/activate/", headers=stack.headers, timeout=10
    )
    signed_in(browser, stack, "admin")
    browser.get(f"{stack.web}/console/versions/{newer}/")
    try:
        share = browser.find_element(By.ID, "share")
        share.clear()
        share.send_keys("0.5")
        browser.find_element(By.CSS_SELECTOR, 'input[value="shadow"] ~ button').click()
        wait_for(browser, "[data-confirm-page]")
        browser.find_element(By.CSS_SELECTOR, "[data-confirm]").click()
        assert f"Version {newer} is the shadow." in wait_for(browser, ".messages").text
        traffic = _get(stack, "/api/traffic/")
        assert (traffic["shadow"]["model_id"], traffic["shadow"]["share"]) == (newer, 0.5)
        assert traffic["canary"] is None
        row = browser.find_element(By.CSS_SELECTOR, f'[data-version="{newer}"]')
        assert row.find_element(By.CSS_SELECTOR, "[data-serves]").text.startswith("shadow")
        assert "cleared" in _confirm(browser, "clear")
        assert _get(stack, "/api/traffic/")["shadow"] is None
    finally:
        requests.delete(f"{stack.web}/api/traffic/", headers=stack.headers, timeout=10)


def test_a_reader_sees_no_change_on_versions_and_is_refused_one(browser, stack, screenshots):
    signed_in(browser, stack, "read")
    browser.get(f"{stack.web}/console/versions/")
    wait_for(browser, "[data-selected-version]")
    forms = browser.find_elements(By.CSS_SELECTOR, "form")
    assert [form.get_attribute("action") for form in forms] == [f"{stack.web}/console/sign-out/"]
    check_page(browser, "versions-read-only", screenshots)
    active = next(m for m in _get(stack, "/api/models/")["results"] if m["active"])
    other = next(m for m in _get(stack, "/api/models/")["results"] if not m["active"])
    token = browser.find_element(By.NAME, "csrfmiddlewaretoken").get_attribute("value")
    session = session_of(browser)
    for action in ("activate", "evaluate", "delete"):
        answer = session.post(
            f"{stack.web}/console/versions/{other['model_id']}/{action}/",
            data={"confirmed": "yes", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{stack.web}/console/versions/"},
            timeout=10,
        )
        assert answer.status_code == 403, (action, answer.text[:300])
        assert "needs the" in answer.text
    still = next(m for m in _get(stack, "/api/models/")["results"] if m["active"])
    assert still["model_id"] == active["model_id"]
    assert other["model_id"] in {m["model_id"] for m in _get(stack, "/api/models/")["results"]}
