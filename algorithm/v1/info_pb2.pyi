from algorithm.v1 import models_pb2 as _models_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("version", "build_time", "git_revision", "uptime_seconds", "active_model", "model_refused", "model_count", "data_rows", "replica", "texts_predicted", "runtime")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BUILD_TIME_FIELD_NUMBER: _ClassVar[int]
    GIT_REVISION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_REFUSED_FIELD_NUMBER: _ClassVar[int]
    MODEL_COUNT_FIELD_NUMBER: _ClassVar[int]
    DATA_ROWS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    TEXTS_PREDICTED_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    version: str
    build_time: str
    git_revision: str
    uptime_seconds: float
    active_model: _models_pb2.Model
    model_refused: str
    model_count: int
    data_rows: int
    replica: str
    texts_predicted: int
    runtime: str
    def __init__(self, version: _Optional[str] = ..., build_time: _Optional[str] = ..., git_revision: _Optional[str] = ..., uptime_seconds: _Optional[float] = ..., active_model: _Optional[_Union[_models_pb2.Model, _Mapping]] = ..., model_refused: _Optional[str] = ..., model_count: _Optional[int] = ..., data_rows: _Optional[int] = ..., replica: _Optional[str] = ..., texts_predicted: _Optional[int] = ..., runtime: _Optional[str] = ...) -> None: ...
