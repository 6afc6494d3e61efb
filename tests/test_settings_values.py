"""The settings' readers: unset or empty means the default, and a value outside what a
setting takes stops the service at start-up with a message naming the setting."""

import pytest

from common.settings import env_choice, env_fraction, env_int_between, env_switch


@pytest.mark.parametrize(("given", "expected"), [(None, True), ("", True), (" OFF ", False)])
def test_a_switch_takes_on_or_off(monkeypatch, given, expected):
    if given is not None:
        monkeypatch.setenv("PREDICT_COALESCING", given)
    assert env_switch("PREDICT_COALESCING", True) is expected


def test_a_switch_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("PREDICT_COALESCING", "false")
    with pytest.raises(ValueError, match="PREDICT_COALESCING must be on or off, not 'false'"):
        env_switch("PREDICT_COALESCING", True)


@pytest.mark.parametrize(("given", "expected"), [("", 64), ("1", 1), ("1000", 1000)])
def test_a_bounded_number_is_read(monkeypatch, given, expected):
    monkeypatch.setenv("COALESCE_MAX_BATCH", given)
    assert env_int_between("COALESCE_MAX_BATCH", 64, 1, 1_000) == expected


@pytest.mark.parametrize("given", ["0", "1001", "2.5", "many"])
def test_a_number_out_of_bounds_is_refused(monkeypatch, given):
    monkeypatch.setenv("COALESCE_MAX_BATCH", given)
    with pytest.raises(ValueError, match=f"from 1 to 1000, not '{given}'"):
        env_int_between("COALESCE_MAX_BATCH", 64, 1, 1_000)


@pytest.mark.parametrize(
    ("given", "expected"), [("", 0.1), ("0", 0.0), ("1", 1.0), (" 0.25 ", 0.25)]
)
def test_a_fraction_is_read(monkeypatch, given, expected):
    monkeypatch.setenv("PREDICTION_LOG_SAMPLE_RATE", given)
    assert env_fraction("PREDICTION_LOG_SAMPLE_RATE", 0.1) == expected


@pytest.mark.parametrize("given", ["-0.1", "1.5", "nan", "10%"])
def test_a_fraction_out_of_bounds_is_refused(monkeypatch, given):
    monkeypatch.setenv("PREDICTION_LOG_SAMPLE_RATE", given)
    with pytest.raises(ValueError, match=f"from 0 to 1, not '{given}'"):
        env_fraction("PREDICTION_LOG_SAMPLE_RATE", 0.1)


def test_a_choice_takes_one_of_its_values_in_any_case(monkeypatch):
    modes = ("full", "hash", "none")
    monkeypatch.setenv("PREDICTION_LOG_TEXT_SAMPLED", " HASH")
    assert env_choice("PREDICTION_LOG_TEXT_SAMPLED", "none", modes) == "hash"
    monkeypatch.setenv("PREDICTION_LOG_TEXT_SAMPLED", "keep")
    with pytest.raises(
        ValueError, match="PREDICTION_LOG_TEXT_SAMPLED must be one of full, hash, none, not 'keep'"
    ):
        env_choice("PREDICTION_LOG_TEXT_SAMPLED", "none", modes)
