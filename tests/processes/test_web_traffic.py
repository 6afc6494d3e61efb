"""/api/traffic/ and /api/traffic/shadow/ through web to the real services: read to see,
admin to change, every bound checked with a message that says what to send."""

import uuid

import pytest

from tests import support

pytestmark = pytest.mark.slow

URL = "/api/traffic/"


@pytest.fixture(autouse=True)
def no_split_after(web_client):
    yield
    web_client.delete(URL)


@pytest.fixture
def candidate(algorithm_services, sms_rows) -> str:
    return algorithm_services.publish_model(sms_rows[::3], activate=False)


def test_an_admin_sets_reads_and_clears_the_split(
    web_client, token_client, active_model_id, candidate, algorithm_services, sms_rows
):
    shadow = algorithm_services.publish_model(sms_rows[1::3], activate=False)
    body = {
        "canary": {"model_id": candidate, "percent": 10, "min_live_accuracy": 0.8},
        "shadow": {"model_id": shadow, "share": 0.5},
    }

    response = web_client.put(URL, body, format="json")

    assert response.status_code == 200, response.json()
    split = response.json()
    assert split["champion_id"] == active_model_id
    assert {key: split["canary"][key] for key in body["canary"]} == body["canary"]
    assert split["canary"]["max_error_rate"] == 0.05
    assert (split["canary"]["min_answers"], split["canary"]["min_feedback"]) == (100, 50)
    assert split["shadow"]["share"] == 0.5 and split["shadow"]["since"]
    reader = token_client("read", username="reader")
    assert reader.get(URL).json() == split
    assert reader.put(URL, body, format="json").status_code == 403
    assert reader.delete(URL).status_code == 403
    shadow_view = reader.get("/api/traffic/shadow/").json()
    assert (shadow_view["shadow_id"], shadow_view["current"]) == (shadow, True)

    # Changing the percent keeps the time the canary started.
    body["canary"]["percent"] = 20
    again = web_client.put(URL, body, format="json").json()
    assert again["canary"]["since"] == split["canary"]["since"]

    assert web_client.delete(URL).status_code == 204
    assert web_client.get(URL).json() == {
        "canary": None,
        "shadow": None,
        "champion_id": active_model_id,
    }
    assert web_client.get("/api/traffic/shadow/").status_code == 409
    past = web_client.get(f"/api/traffic/shadow/?model_id={shadow}").json()
    assert past["current"] is False


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"canary": {"percent": 10}}, "canary.model_id: This field is required."),
        ({"canary": {"percent": 100}}, "Must be above 0 and below 100"),
        ({"canary": {"percent": 5, "max_error_rate": 2}}, "max_error_rate"),
        ({"canary": {"percent": 5, "min_answer": 10}}, "Unknown field 'min_answer'"),
        ({"shadow": {"share": 0}}, "Must be above 0 and at most 1"),
        ({"shadow": {"share": 0.5}, "extra": 1}, "Unknown field 'extra'"),
    ],
)
def test_a_bad_split_is_a_400_saying_what_to_send(web_client, candidate, part, message):
    body = {
        key: {"model_id": candidate, **value} if isinstance(value, dict) else value
        for key, value in part.items()
    }
    if "model_id: This field" in message:  # the one body sent as it is
        body = part

    response = web_client.put(URL, body, format="json")

    assert response.status_code == 400
    assert message in response.json()["message"]


def test_the_active_version_an_unknown_one_or_a_tampered_one_is_refused(
    web_client, active_model_id, candidate, algorithm_services
):
    active = web_client.put(
        URL, {"canary": {"model_id": active_model_id, "percent": 5}}, format="json"
    )
    unknown = web_client.put(
        URL, {"shadow": {"model_id": str(uuid.uuid4()), "share": 1}}, format="json"
    )
    with (algorithm_services.store.path(candidate) / "model.pickle").open("ab") as stream:
        stream.write(b"tampered")
    tampered = web_client.put(URL, {"canary": {"model_id": candidate, "percent": 5}}, format="json")

    assert active.status_code == 400
    assert "names the active version" in active.json()["message"]
    assert unknown.status_code == 404
    assert tampered.status_code == 409
    assert "failed its integrity checks and cannot be the canary" in tampered.json()["message"]


def test_a_version_in_the_split_cannot_be_deleted_until_removed(
    web_client, active_model_id, candidate
):
    body = {"canary": {"model_id": candidate, "percent": 5}}
    assert web_client.put(URL, body, format="json").status_code == 200

    refused = web_client.delete(f"/api/models/{candidate}/")

    assert refused.status_code == 409
    assert "DELETE /api/traffic/" in refused.json()["message"]
    web_client.delete(URL)
    assert web_client.delete(f"/api/models/{candidate}/").status_code == 204


def test_activating_the_canary_ends_it(web_client, active_model_id, candidate, prediction_stub):
    body = {"canary": {"model_id": candidate, "percent": 5}}
    web_client.put(URL, body, format="json")

    assert web_client.post(f"/api/models/{candidate}/activate/").status_code == 200

    split = web_client.get(URL).json()
    assert (split["canary"], split["champion_id"]) == (None, candidate)
    web_client.post(f"/api/models/{active_model_id}/activate/")
    support.wait_until(
        lambda: web_client.get(URL).json()["champion_id"] == active_model_id, 5, "the rollback"
    )
