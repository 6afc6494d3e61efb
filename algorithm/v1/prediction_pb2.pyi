from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictRequest(_message.Message):
    __slots__ = ("text", "model_id", "reference", "caller", "request_id", "explain")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    text: str
    model_id: str
    reference: str
    caller: str
    request_id: str
    explain: bool
    def __init__(self, text: _Optional[str] = ..., model_id: _Optional[str] = ..., reference: _Optional[str] = ..., caller: _Optional[str] = ..., request_id: _Optional[str] = ..., explain: _Optional[bool] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("label", "scores", "model_id", "prediction_id", "reference", "explanation")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    label: str
    scores: _containers.ScalarMap[str, float]
    model_id: str
    prediction_id: str
    reference: str
    explanation: Explanation
    def __init__(self, label: _Optional[str] = ..., scores: _Optional[_Mapping[str, float]] = ..., model_id: _Optional[str] = ..., prediction_id: _Optional[str] = ..., reference: _Optional[str] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ...) -> None: ...

class PredictBatchRequest(_message.Message):
    __slots__ = ("texts", "model_id", "references", "callers", "request_ids", "explain")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    CALLERS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    model_id: str
    references: _containers.RepeatedScalarFieldContainer[str]
    callers: _containers.RepeatedScalarFieldContainer[str]
    request_ids: _containers.RepeatedScalarFieldContainer[str]
    explain: bool
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., model_id: _Optional[str] = ..., references: _Optional[_Iterable[str]] = ..., callers: _Optional[_Iterable[str]] = ..., request_ids: _Optional[_Iterable[str]] = ..., explain: _Optional[bool] = ...) -> None: ...

class PredictBatchResponse(_message.Message):
    __slots__ = ("predictions", "model_id")
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    predictions: _containers.RepeatedCompositeFieldContainer[Prediction]
    model_id: str
    def __init__(self, predictions: _Optional[_Iterable[_Union[Prediction, _Mapping]]] = ..., model_id: _Optional[str] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ("label", "scores", "prediction_id", "reference", "explanation", "model_id")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    label: str
    scores: _containers.ScalarMap[str, float]
    prediction_id: str
    reference: str
    explanation: Explanation
    model_id: str
    def __init__(self, label: _Optional[str] = ..., scores: _Optional[_Mapping[str, float]] = ..., prediction_id: _Optional[str] = ..., reference: _Optional[str] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ..., model_id: _Optional[str] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("runtime", "predicted", "runner_up", "unavailable")
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    runtime: str
    predicted: LabelExplanation
    runner_up: LabelExplanation
    unavailable: str
    def __init__(self, runtime: _Optional[str] = ..., predicted: _Optional[_Union[LabelExplanation, _Mapping]] = ..., runner_up: _Optional[_Union[LabelExplanation, _Mapping]] = ..., unavailable: _Optional[str] = ...) -> None: ...

class LabelExplanation(_message.Message):
    __slots__ = ("label", "decision_value", "intercept", "terms", "rest")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    DECISION_VALUE_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    REST_FIELD_NUMBER: _ClassVar[int]
    label: str
    decision_value: float
    intercept: float
    terms: _containers.RepeatedCompositeFieldContainer[TermContribution]
    rest: float
    def __init__(self, label: _Optional[str] = ..., decision_value: _Optional[float] = ..., intercept: _Optional[float] = ..., terms: _Optional[_Iterable[_Union[TermContribution, _Mapping]]] = ..., rest: _Optional[float] = ...) -> None: ...

class TermContribution(_message.Message):
    __slots__ = ("term", "contribution")
    TERM_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    term: str
    contribution: float
    def __init__(self, term: _Optional[str] = ..., contribution: _Optional[float] = ...) -> None: ...
