"""The Data and Review pages as their users meet them in chromium: a file with a bad line
imported and its error shown, the table filtered and paged, a row added, edited and deleted,
five review items labelled by digit keys and then found in the table with source `review`, a
second reviewer in a second browser never shown the first's item, and a read-only user with
no change control and a 403 for every post. Every page axe-clean, nothing scrolling sideways
at 640 px, a screenshot of each."""

import http.client
import re
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from common import limits
from tests import support
from tests.browser.conftest import (
    PASSWORD,
    check_page,
    chromium,
    console_user,
    session_of,
    wait_for,
)

# Texts the REST API predicts, so that the prediction log (every prediction, with its text,
# in this stack) gives the review queue items: more than this module's tests take.
QUEUE_TEXTS = 24
BAD_CSV = "text,label\nwin a prize now,spam\nsee you at noon,\nok thanks,ham\n"


@pytest.fixture(scope="module")
def people(stack) -> dict[str, dict[str, str]]:
    """A console user for each part this module's tests play, made and signed in once: their
    session cookies. (Signing in is tested in test_console.py; a sign-in's password hash,
    on a thread of the lowest priority, is the slowest step of a test here.)"""
    found = {}
    for part, scope in (("writer", "write"), ("second writer", "write"), ("reader", "read")):
        username = console_user(stack, scope)
        session, answer = support.console_sign_in(stack.web, username, PASSWORD)
        assert answer.status_code == 302, answer.text[:300]
        found[part] = session.cookies.get_dict()
    return found


def signed_in_as(driver, stack, cookies: dict[str, str]) -> None:
    """The browser holding a signed-in session of `people`."""
    driver.get(f"{stack.web}/console/sign-in/")  # on the site first: cookies are per site
    for name, value in cookies.items():
        driver.add_cookie({"name": name, "value": value, "path": "/console/"})


@pytest.fixture(scope="module")
def queue(stack) -> list[str]:
    """Texts predicted through the REST API, each logged once the log's writer has caught up."""
    reference = f"browser-{uuid.uuid4().hex[:8]}"
    texts = [f"Are you free for a call about the {i} offer tonight?" for i in range(QUEUE_TEXTS)]
    for text in texts:
        answer = requests.post(
            f"{stack.web}/api/predict/",
            json={"text": text, "reference": reference},
            headers=stack.headers,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def logged() -> bool:
        listed = requests.get(
            f"{stack.web}/api/predictions/",
            params={"reference": reference, "page_size": QUEUE_TEXTS},
            headers=stack.headers,
            timeout=10,
        ).json()
        return len(listed["results"]) == QUEUE_TEXTS

    support.wait_until(logged, 30, "the prediction log's rows")
    return texts


def _post_headers(stack) -> dict[str, str]:
    return {"Referer": f"{stack.web}/console/"}


def _csrf(browser) -> str:
    return browser.find_element(By.NAME, "csrfmiddlewaretoken").get_attribute("value")


def _rows(browser) -> list[dict[str, str]]:
    return [
        {
            "id": row.get_attribute("data-row"),
            "label": row.get_attribute("data-label"),
            "source": row.get_attribute("data-source"),
            "text": row.find_element(By.CSS_SELECTOR, "[data-text]").get_attribute("data-text"),
        }
        for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-row]")
    ]


def test_an_import_with_one_bad_line_shows_that_line_and_its_message(
    browser, stack, screenshots, tmp_path, people
):
    signed_in_as(browser, stack, people["writer"])
    browser.get(f"{stack.web}/console/data/import/")
    bad = tmp_path / "rows.csv"
    bad.write_text(BAD_CSV)
    browser.find_element(By.ID, "file").send_keys(str(bad))
    browser.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    wait_for(browser, "[data-import-errors]")
    cells = browser.find_element(By.CSS_SELECTOR, 'tr[data-line="3"]').find_elements(
        By.TAG_NAME, "td"
    )
    assert [cell.text for cell in cells] == ["3", "label", "This field may not be blank."]
    message = browser.find_element(By.CSS_SELECTOR, "[data-import-message]").text
    assert message.startswith("1 of 3 rows are invalid, so nothing was imported. First, line 3")
    check_page(browser, "data-import-error", screenshots)

    # A file past the console's form limit goes through for a console user who may import,
    # as the API's import would; another's body is refused before it takes a thread.
    label = f"bulk-{uuid.uuid4().hex[:6]}"
    rows = "".join(f"row {i} of a file too large for a form,{label}\n" for i in range(8000))
    large = f"text,label\n{rows}".encode()
    assert len(large) > limits.MAX_CONSOLE_FORM_BYTES
    url = f"{stack.web}/console/data/import/"
    form = {"csrfmiddlewaretoken": _csrf(browser)}
    files = {"file": ("rows.csv", large, "text/csv")}
    sent = session_of(browser).post(
        url, data=form, files=files, headers=_post_headers(stack), timeout=60
    )
    assert sent.status_code == 200, sent.text[:300]
    assert "Imported 8000 of 8000 rows" in sent.text
    assert _declaring(stack, "/console/data/import/", len(large)) == 413


def _declaring(stack, path: str, length: int, cookie: str = "") -> int:
    """The status of a post that declares a body of `length` bytes and sends none: refused at
    once if the body may not be that large, else left waiting for it (then None)."""
    connection = http.client.HTTPConnection("127.0.0.1", int(stack.env["WEB_PORT"]), timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "multipart/form-data; boundary=x")
        connection.putheader("Content-Length", str(length))
        if cookie:
            connection.putheader("Cookie", cookie)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_table_filters_by_label_and_source_and_pages(browser, stack, screenshots, people):
    signed_in_as(browser, stack, people["reader"])
    browser.get(f"{stack.web}/console/data/")
    browser.find_element(By.ID, "filter-label").send_keys("spam")
    browser.find_element(By.CSS_SELECTOR, '#source option[value="import"]').click()
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait_for(browser, '[data-page="older"]')
    first = _rows(browser)
    assert len(first) == 50
    assert {(row["label"], row["source"]) for row in first} == {("spam", "import")}
    ids = [int(row["id"]) for row in first]
    assert ids == sorted(ids, reverse=True)
    check_page(browser, "data", screenshots)

    browser.find_element(By.CSS_SELECTOR, '[data-page="older"]').click()
    wait_for(browser, '[data-page="newer"]')
    second = _rows(browser)
    assert {(row["label"], row["source"]) for row in second} == {("spam", "import")}
    assert int(second[0]["id"]) < ids[-1]
    browser.find_element(By.CSS_SELECTOR, '[data-page="newer"]').click()
    WebDriverWait(browser, 10).until(lambda driver: _rows(driver) == first)

    browser.get(f"{stack.web}/console/data/?source=api&search=lunch+at+noon")
    assert [(row["text"], row["label"]) for row in _rows(browser)] == [
        ("Lunch at noon tomorrow?", "ham")
    ]


def test_a_writer_adds_edits_and_deletes_a_row(browser, stack, screenshots, people):
    signed_in_as(browser, stack, people["writer"])
    text = f"Dinner on the {uuid.uuid4().hex[:6]} at eight?"
    browser.get(f"{stack.web}/console/data/")
    browser.find_element(By.CSS_SELECTOR, "details.add summary").click()
    browser.find_element(By.ID, "new-text").send_keys(text)
    browser.find_element(By.ID, "new-label").send_keys("ham")
    browser.find_element(By.CSS_SELECTOR, "[data-add-form] button[type=submit]").click()
    assert "is added" in wait_for(browser, ".messages").text

    browser.get(f"{stack.web}/console/data/?search={text.split()[3]}")
    [row] = _rows(browser)
    assert (row["text"], row["label"], row["source"]) == (text, "ham", "api")
    browser.find_element(By.CSS_SELECTOR, f'[aria-label="Edit row {row["id"]}"]').click()
    label = wait_for(browser, "#label")
    check_page(browser, "data-edit", screenshots)
    label.clear()
    label.send_keys("spam")
    browser.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    assert f"Row {row['id']} is saved." in wait_for(browser, ".messages").text
    saved = requests.get(f"{stack.web}/api/data/{row['id']}/", headers=stack.headers, timeout=10)
    assert (saved.json()["text"], saved.json()["label"]) == (text, "spam")

    browser.get(f"{stack.web}/console/data/?search={text.split()[3]}")
    browser.find_element(By.CSS_SELECTOR, f'[aria-label="Delete row {row["id"]}"]').click()
    wait_for(browser, f'[data-delete-row="{row["id"]}"]')
    check_page(browser, "data-delete", screenshots)
    browser.find_element(By.CSS_SELECTOR, "main form button.danger").click()
    assert f"Row {row['id']} is deleted." in wait_for(browser, ".messages").text
    gone = requests.get(f"{stack.web}/api/data/{row['id']}/", headers=stack.headers, timeout=10)
    assert gone.status_code == 404


def _item(browser) -> tuple[str, str]:
    heading = wait_for(browser, "[data-item-id]")
    text = browser.find_element(By.CSS_SELECTOR, "[data-item-text]").get_attribute("textContent")
    return heading.get_attribute("data-item-id"), text


def _start(browser, stack) -> tuple[str, str]:
    browser.get(f"{stack.web}/console/review/")
    if not browser.find_elements(By.CSS_SELECTOR, "[data-item-id]"):
        browser.find_element(By.CSS_SELECTOR, "form[data-lease] button").click()
    return _item(browser)


def _next(browser, leaving: str) -> tuple[str, str]:
    """The next item, once htmx has swapped it in and the page has moved the focus to it."""
    focused = (
        "const heading = document.querySelector('[data-item-id]');"
        "return heading && document.activeElement === heading ? heading.dataset.itemId : null;"
    )
    WebDriverWait(browser, 15).until(
        lambda driver: driver.execute_script(focused) not in (None, leaving)
    )
    return _item(browser)


def _decided(browser) -> int:
    """The items the reviewer has labelled so far (accepted or corrected), as the page counts."""
    counts = browser.find_element(By.CSS_SELECTOR, "[data-review-counts]").text
    accepted, corrected = re.search(r"(\d+) accepted, (\d+) corrected", counts).groups()
    return int(accepted) + int(corrected)


def _press(browser, key: str, leaving: str) -> tuple[str, str]:
    """Press a key on the review page, where the focus is; the next item."""
    browser.switch_to.active_element.send_keys(key)
    return _next(browser, leaving)


def test_five_items_labelled_by_keyboard_are_in_the_data_with_source_review(
    browser, stack, screenshots, queue, people
):
    signed_in_as(browser, stack, people["writer"])
    item_id, text = _start(browser, stack)
    decided = _decided(browser)
    assert browser.find_elements(By.CSS_SELECTOR, '[data-chart="item-scores"] [data-point]')
    marked = browser.find_elements(By.CSS_SELECTOR, "[data-item-text] mark[data-term]")
    assert marked, "no term of the explanation is marked in the text"
    assert all(mark.text.lower() in text.lower() for mark in marked)
    check_page(browser, "review", screenshots)
    # Gone if a decision loaded a page, rather than htmx swapping the item in.
    browser.execute_script("window.noPageLoad = true;")
    labelled = []
    for press, key in enumerate("21211"):
        button = browser.find_element(By.CSS_SELECTOR, f'button[data-key="{key}"]')
        labelled.append((text, button.get_attribute("data-label")))
        if press < 4:
            item_id, text = _press(browser, key, item_id)
        else:
            # The last by Tab and Enter: from the item's heading, Tab reaches label 1.
            browser.switch_to.active_element.send_keys(Keys.TAB)
            assert browser.switch_to.active_element.get_attribute("data-key") == "1"
            item_id, text = _press(browser, Keys.ENTER, item_id)
        notice = browser.find_element(By.CSS_SELECTOR, "[data-review-notice]").text
        assert f"labelled {labelled[-1][1]}" in notice
    assert browser.execute_script("return window.noPageLoad === true;")
    assert _decided(browser) == decided + 5

    browser.get(f"{stack.web}/console/data/?source=review")
    shown = {(row["text"], row["label"]) for row in _rows(browser)}
    assert set(labelled) <= shown
    assert {row["source"] for row in _rows(browser)} == {"review"}
    check_page(browser, "data-review-rows", screenshots)


def test_a_second_reviewer_never_gets_an_item_leased_to_the_first(browser, stack, queue, people):
    signed_in_as(browser, stack, people["writer"])
    with chromium() as second:
        signed_in_as(second, stack, people["second writer"])
        first_items, second_items = [_start(browser, stack)], [_start(second, stack)]
        for _ in range(3):
            first_items.append(_press(browser, "0", first_items[-1][0]))
            second_items.append(_press(second, "0", second_items[-1][0]))
    assert not {item for item, _ in first_items} & {item for item, _ in second_items}
    assert not {text for _, text in first_items} & {text for _, text in second_items}


def test_a_read_only_user_sees_no_change_control_and_is_refused_every_post(
    browser, stack, screenshots, people
):
    signed_in_as(browser, stack, people["reader"])
    browser.get(f"{stack.web}/console/data/")
    assert [link.text for link in browser.find_elements(By.CSS_SELECTOR, "header nav a")] == [
        "Overview",
        "Data",
        "Training",
        "Versions",
    ]
    posting = browser.find_elements(By.CSS_SELECTOR, 'form[method="post"]')
    assert [form.get_attribute("action") for form in posting] == [f"{stack.web}/console/sign-out/"]
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-add-form], .row-actions")
    assert not browser.find_elements(By.CSS_SELECTOR, 'a[href="/console/data/import/"]')
    check_page(browser, "data-read-only", screenshots)
    token = _csrf(browser)
    row = _rows(browser)[0]["id"]

    browser.get(f"{stack.web}/console/review/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert not browser.find_elements(By.CSS_SELECTOR, "main form, main button")
    session = session_of(browser)
    for path, form in (
        ("/console/data/", {"text": "mallory was here", "label": "ham"}),
        (f"/console/data/{row}/", {"text": "mallory was here", "label": "ham"}),
        (f"/console/data/{row}/delete/", {}),
        ("/console/data/import/", {}),
        ("/console/review/lease/", {}),
        ("/console/review/1/", {"decision": "skip"}),
    ):
        answer = session.post(
            f"{stack.web}{path}",
            data={**form, "csrfmiddlewaretoken": token},
            files={"file": ("rows.csv", b"text,label\nmallory,ham\n")}
            if "import" in path
            else None,
            headers=_post_headers(stack),
            timeout=10,
        )
        assert answer.status_code == 403, (path, answer.text[:300])
        assert "needs the" in answer.text
    kept = requests.get(f"{stack.web}/api/data/{row}/", headers=stack.headers, timeout=10).json()
    assert kept["text"] != "mallory was here"
    found = requests.get(
        f"{stack.web}/api/data/", params={"search": "mallory"}, headers=stack.headers, timeout=10
    ).json()
    assert found["results"] == []
