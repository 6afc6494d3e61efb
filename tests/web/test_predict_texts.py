"""Web's rule for a text to classify is the algorithm service's own (common.limits.is_blank):
a text one refuses as blank the other refuses too, so web never sends one that would split
the batch it joins (tests/hostile/test_web_edge.py)."""

import pytest

from algorithm.domain.errors import InvalidArgument
from algorithm.serving.services.prediction import check_text
from web.algorithm_proxy.serializers import PredictRequestSerializer

TEXTS = ["", " ", "   ", "\t\n", "\u3000", "\u200b", "a", "  spaced out  "]


def _service_takes(text: str) -> bool:
    try:
        check_text(text)
    except InvalidArgument:
        return False
    return True


@pytest.mark.parametrize("text", TEXTS)
def test_web_takes_a_text_exactly_when_the_service_does(text):
    one = PredictRequestSerializer(data={"text": text})
    batch = PredictRequestSerializer(data={"texts": ["fine", text]})

    assert one.is_valid() == batch.is_valid() == _service_takes(text)


def test_a_blank_text_names_its_field_and_a_kept_one_is_sent_as_written():
    batch = PredictRequestSerializer(data={"texts": ["fine", "  \n"]})
    one = PredictRequestSerializer(data={"text": "  spaced out  "})

    assert not batch.is_valid()
    assert batch.errors == {"texts": {1: ["This field may not be blank."]}}
    assert one.is_valid()
    assert one.validated_data["text"] == "  spaced out  "
