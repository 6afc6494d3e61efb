"""The console in a real browser: Debian's headless chromium, driven through Selenium and
Debian's chromedriver (never a browser or a driver downloaded), against the whole stack
started once by `make run` for every module here, with the SMS data imported and one model
trained through the API.

How a test of a page goes: `signed_in(browser, stack, scope)` signs a new console user in
(made by the `console_user` command); `browser.get(...)` loads the page; `check_page(browser,
name)` runs axe-core in it (no violation of impact serious or critical), checks that nothing
scrolls sideways in a window 640 pixels wide, and saves a screenshot (in the test run's
folder, and in CONSOLE_SCREENSHOTS_DIR when it is set, for the docs)."""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile
import uuid
from dataclasses import dataclass

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests import support

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = support.REPO_ROOT / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a browser's long passphrase"
NARROW = 640
WIDE = 1280
HEIGHT = 1000


@dataclass
class Stack:
    web: str
    headers: dict[str, str]
    env: dict[str, str]
    model_id: str
    job_id: str


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("browser-stack")
    # Every prediction logged with its text, so that the review queue has the predictions
    # the tests make (tests/browser/test_console_data_review.py).
    logged = {"PREDICTION_LOG_SAMPLE_RATE": "1", "PREDICTION_LOG_TEXT_SAMPLED": "full"}
    with support.make_run("browser", workdir, logged) as (env, _):
        web = f"http://127.0.0.1:{env['WEB_PORT']}"
        headers = {"Authorization": f"Token {env['API_TOKEN']}"}
        imported = requests.post(
            f"{web}/api/data/import/",
            data=(support.DATA_DIR / "sms_spam.tsv").read_bytes(),
            headers={**headers, "Content-Type": "text/tab-separated-values"},
            timeout=60,
        )
        assert imported.status_code == 201, imported.text
        row = {"text": "Lunch at noon tomorrow?", "label": "ham"}
        assert requests.post(f"{web}/api/data/", json=row, headers=headers, timeout=10).ok
        job = requests.post(f"{web}/api/train/", headers=headers, timeout=30).json()
        done = support.wait_until(
            lambda: _ended(f"{web}/api/jobs/{job['job_id']}/", headers), 180, "training"
        )
        assert done["state"] == "succeeded", done
        listed = requests.get(f"{web}/api/jobs/", headers=headers, timeout=10).json()
        assert [found["job_id"] for found in listed["results"]] == [job["job_id"]]
        yield Stack(web, headers, env, done["model_id"], job["job_id"])


def _ended(url: str, headers: dict[str, str]) -> dict | None:
    job = requests.get(url, headers=headers, timeout=10).json()
    return job if job["state"] in ("succeeded", "failed") else None


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per module; each test starts with no cookies."""
    with chromium() as driver:
        yield driver


@contextlib.contextmanager
def chromium():
    """A headless chromium of its own (a test that needs a second browser opens one)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={WIDE},{HEIGHT}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_cookies(request):
    if "browser" in request.fixturenames:
        driver = request.getfixturevalue("browser")
        driver.delete_all_cookies()
        driver.set_window_size(WIDE, HEIGHT)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> list[pathlib.Path]:
    folders = [tmp_path_factory.mktemp("screenshots")]
    if wanted := os.environ.get("CONSOLE_SCREENSHOTS_DIR"):
        folders.append(pathlib.Path(wanted))
        folders[-1].mkdir(parents=True, exist_ok=True)
    return folders


def console_user(stack: Stack, *scopes: str) -> str:
    username = f"{'-'.join(scopes)}-{uuid.uuid4().hex[:6]}"
    support.console_user(stack.env, username, *scopes, password=PASSWORD)
    return username


def sign_in(driver, stack: Stack, username: str, password: str = PASSWORD) -> None:
    driver.get(f"{stack.web}/console/sign-in/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    field = driver.find_element(By.ID, "id_password")
    field.send_keys(password)
    field.submit()


def signed_in(driver, stack: Stack, *scopes: str) -> str:
    """A new console user with these scopes, signed in; their name."""
    username = console_user(stack, *scopes)
    sign_in(driver, stack, username)
    wait_for(driver, "form.sign-out")
    return username


def wait_for(driver, selector: str, seconds: float = 15):
    return WebDriverWait(driver, seconds).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector))
    )


def check_page(driver, name: str, screenshots: list[pathlib.Path]) -> None:
    """axe-core clean (nothing serious or critical), no sideways scroll at 640 px, and a
    screenshot of the page as it is."""
    for folder in screenshots:
        driver.save_screenshot(str(folder / f"{name}.png"))
    driver.set_window_size(NARROW, HEIGHT)
    try:
        width = driver.execute_script(
            "const root = document.documentElement;return [root.scrollWidth, root.clientWidth];"
        )
        assert width[1] <= NARROW, f"{name}: the window is not narrow: {width}"
        assert width[0] <= width[1], f"{name}: scrolls sideways at {NARROW} px: {width}"
        for size in (NARROW, WIDE):
            driver.set_window_size(size, HEIGHT)
            violations = _axe(driver)
            assert violations == [], f"{name} at {size} px: {json.dumps(violations, indent=1)}"
    finally:
        driver.set_window_size(WIDE, HEIGHT)


def _axe(driver) -> list[dict]:
    if not driver.execute_script("return typeof window.axe !== 'undefined';"):
        driver.execute_script(AXE.read_text())
    driver.set_script_timeout(60)
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(r.violations), e => done([{id: String(e)}]));"
    )
    return [
        {"id": v["id"], "impact": v.get("impact"), "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in found
        if v.get("impact") in ("serious", "critical") or "impact" not in v
    ]


def session_of(driver) -> requests.Session:
    """A requests session holding the browser's cookies, to post what the page never offered."""
    session = requests.Session()
    for cookie in driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"], path=cookie.get("path", "/"))
    return session
