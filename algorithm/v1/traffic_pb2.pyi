import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Canary(_message.Message):
    __slots__ = ("model_id", "percent", "max_error_rate", "min_live_accuracy", "min_answers", "min_feedback", "since")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    MAX_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    MIN_LIVE_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    MIN_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    MIN_FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    percent: float
    max_error_rate: float
    min_live_accuracy: float
    min_answers: int
    min_feedback: int
    since: _timestamp_pb2.Timestamp
    def __init__(self, model_id: _Optional[str] = ..., percent: _Optional[float] = ..., max_error_rate: _Optional[float] = ..., min_live_accuracy: _Optional[float] = ..., min_answers: _Optional[int] = ..., min_feedback: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Shadow(_message.Message):
    __slots__ = ("model_id", "share", "since")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    share: float
    since: _timestamp_pb2.Timestamp
    def __init__(self, model_id: _Optional[str] = ..., share: _Optional[float] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Traffic(_message.Message):
    __slots__ = ("canary", "shadow", "champion_id")
    CANARY_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_ID_FIELD_NUMBER: _ClassVar[int]
    canary: Canary
    shadow: Shadow
    champion_id: str
    def __init__(self, canary: _Optional[_Union[Canary, _Mapping]] = ..., shadow: _Optional[_Union[Shadow, _Mapping]] = ..., champion_id: _Optional[str] = ...) -> None: ...

class GetTrafficRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTrafficResponse(_message.Message):
    __slots__ = ("traffic",)
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    traffic: Traffic
    def __init__(self, traffic: _Optional[_Union[Traffic, _Mapping]] = ...) -> None: ...

class SetTrafficRequest(_message.Message):
    __slots__ = ("canary", "shadow")
    CANARY_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    canary: Canary
    shadow: Shadow
    def __init__(self, canary: _Optional[_Union[Canary, _Mapping]] = ..., shadow: _Optional[_Union[Shadow, _Mapping]] = ...) -> None: ...

class SetTrafficResponse(_message.Message):
    __slots__ = ("traffic",)
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    traffic: Traffic
    def __init__(self, traffic: _Optional[_Union[Traffic, _Mapping]] = ...) -> None: ...

class ClearTrafficRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClearTrafficResponse(_message.Message):
    __slots__ = ("traffic",)
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    traffic: Traffic
    def __init__(self, traffic: _Optional[_Union[Traffic, _Mapping]] = ...) -> None: ...

class GetShadowAgreementRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class LabelAgreement(_message.Message):
    __slots__ = ("label", "predictions", "agreed", "agreement")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    AGREED_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    label: str
    predictions: int
    agreed: int
    agreement: float
    def __init__(self, label: _Optional[str] = ..., predictions: _Optional[int] = ..., agreed: _Optional[int] = ..., agreement: _Optional[float] = ...) -> None: ...

class LabelPair(_message.Message):
    __slots__ = ("champion_label", "shadow_label", "count")
    CHAMPION_LABEL_FIELD_NUMBER: _ClassVar[int]
    SHADOW_LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    champion_label: str
    shadow_label: str
    count: int
    def __init__(self, champion_label: _Optional[str] = ..., shadow_label: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class GetShadowAgreementResponse(_message.Message):
    __slots__ = ("shadow_id", "predictions", "agreed", "agreement", "labels", "pairs", "current")
    SHADOW_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    AGREED_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    shadow_id: str
    predictions: int
    agreed: int
    agreement: float
    labels: _containers.RepeatedCompositeFieldContainer[LabelAgreement]
    pairs: _containers.RepeatedCompositeFieldContainer[LabelPair]
    current: bool
    def __init__(self, shadow_id: _Optional[str] = ..., predictions: _Optional[int] = ..., agreed: _Optional[int] = ..., agreement: _Optional[float] = ..., labels: _Optional[_Iterable[_Union[LabelAgreement, _Mapping]]] = ..., pairs: _Optional[_Iterable[_Union[LabelPair, _Mapping]]] = ..., current: _Optional[bool] = ...) -> None: ...
