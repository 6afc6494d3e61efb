"""The Training page in chromium on the real stack: a job started from the form and followed
to its end without a reload, a job the worker cannot finish showing why, and a reader who
watches but cannot start one."""

import uuid

import requests
from selenium.webdriver.common.by import By

from tests.browser.conftest import check_page, session_of, signed_in, wait_for

# Longest a small model takes to train on the SMS data here, queue included.
TRAINING_SECONDS = 120
ENDED = ("succeeded", "failed")


def _start(browser, stack, algorithm: str, **parameters: str) -> str:
    """Fill in the form for this algorithm and start it; the job's id, from the page the form
    leads to."""
    browser.get(f"{stack.web}/console/training/")
    browser.find_element(By.ID, f"algorithm-{algorithm}").click()
    for name, value in parameters.items():
        field = browser.find_element(By.ID, f"parameter-{algorithm}-{name}")
        field.clear()
        field.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "[data-train-form] button[type=submit]").click()
    return wait_for(browser, "[data-job-watch]").get_attribute("data-job-watch")


def _ended(browser, job_id: str):
    """The job's element once the page shows it ended, followed by htmx in place: the page
    is never loaded again (a mark left on it stays)."""
    browser.execute_script("window.sameDocument = true;")
    ended = ", ".join(f'[data-job-watch="{job_id}"][data-state="{state}"]' for state in ENDED)
    wait_for(browser, ended, TRAINING_SECONDS)
    assert browser.execute_script("return window.sameDocument === true;")
    return browser.find_element(By.CSS_SELECTOR, "[data-job-watch]")


def test_a_job_started_on_the_page_is_followed_to_its_end(browser, stack, screenshots):
    signed_in(browser, stack, "write")
    browser.get(f"{stack.web}/console/training/")
    check_page(browser, "training", screenshots)
    job_id = _start(browser, stack, "naive_bayes", alpha="0.2")
    assert browser.current_url == f"{stack.web}/console/training/jobs/{job_id}/"
    job = _ended(browser, job_id)
    assert job.get_attribute("data-state") == "succeeded"
    assert job.find_element(By.CSS_SELECTOR, "[data-job-percent]").text == "100"
    model_id = job.find_element(By.CSS_SELECTOR, "[data-job-model]").get_attribute("data-job-model")
    check_page(browser, "training-job-succeeded", screenshots)
    found = requests.get(f"{stack.web}/api/jobs/{job_id}/", headers=stack.headers, timeout=10)
    assert {key: found.json()[key] for key in ("state", "algorithm", "model_id")} == {
        "state": "succeeded",
        "algorithm": "naive_bayes",
        "model_id": model_id,
    }
    assert found.json()["parameters"]["alpha"] == 0.2
    # The list of recent jobs has it, newest first.
    browser.get(f"{stack.web}/console/training/")
    first = browser.find_element(By.CSS_SELECTOR, "[data-jobs] tbody tr")
    assert (first.get_attribute("data-job"), first.get_attribute("data-state")) == (
        job_id,
        "succeeded",
    )


def test_a_job_the_worker_cannot_finish_shows_why(browser, stack, screenshots):
    # One row of a new label: the service takes the job, the worker finds it cannot train.
    label = f"rare-{uuid.uuid4().hex[:6]}"
    row = requests.post(
        f"{stack.web}/api/data/",
        json={"text": "a text of a label with one row", "label": label},
        headers=stack.headers,
        timeout=10,
    )
    assert row.status_code == 201, row.text
    try:
        signed_in(browser, stack, "write")
        job_id = _start(browser, stack, "naive_bayes")
        job = _ended(browser, job_id)
        assert job.get_attribute("data-state") == "failed"
        assert job.find_element(By.CSS_SELECTOR, "[data-job-error]").text == (
            "Every label needs at least 3 rows (some to train on, some to test with); add "
            f"rows for: '{label}'."
        )
        check_page(browser, "training-job-failed", screenshots)
    finally:
        deleted = requests.delete(
            f"{stack.web}/api/data/{row.json()['id']}/", headers=stack.headers, timeout=10
        )
        assert deleted.status_code == 204


def test_a_reader_follows_the_jobs_but_has_no_form_and_is_refused_a_post(browser, stack):
    signed_in(browser, stack, "read")
    browser.get(f"{stack.web}/console/training/")
    assert browser.find_elements(By.CSS_SELECTOR, "[data-jobs] tbody tr")
    forms = browser.find_elements(By.CSS_SELECTOR, "form")
    assert [form.get_attribute("action") for form in forms] == [f"{stack.web}/console/sign-out/"]
    jobs_before = requests.get(f"{stack.web}/api/jobs/", headers=stack.headers, timeout=10)
    token = browser.find_element(By.NAME, "csrfmiddlewaretoken").get_attribute("value")
    answer = session_of(browser).post(
        f"{stack.web}/console/training/",
        data={"algorithm": "naive_bayes", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{stack.web}/console/training/"},
        timeout=10,
    )
    assert answer.status_code == 403, answer.text[:300]
    assert "needs the" in answer.text
    jobs_after = requests.get(f"{stack.web}/api/jobs/", headers=stack.headers, timeout=10)
    assert jobs_after.json()["count"] == jobs_before.json()["count"]
