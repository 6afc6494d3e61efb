import datetime

from algorithm.v1 import training_pb2 as _training_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvaluationSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVALUATION_SOURCE_UNSPECIFIED: _ClassVar[EvaluationSource]
    EVALUATION_SOURCE_DATA_TABLE: _ClassVar[EvaluationSource]
    EVALUATION_SOURCE_UPLOAD: _ClassVar[EvaluationSource]
EVALUATION_SOURCE_UNSPECIFIED: EvaluationSource
EVALUATION_SOURCE_DATA_TABLE: EvaluationSource
EVALUATION_SOURCE_UPLOAD: EvaluationSource

class Model(_message.Message):
    __slots__ = ("model_id", "algorithm", "parameters", "labels", "row_count", "data_snapshot", "metrics", "create_time", "training_seconds", "library_versions", "active", "job_id", "evaluation")
    class LibraryVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    DATA_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    algorithm: str
    parameters: _struct_pb2.Struct
    labels: _containers.RepeatedScalarFieldContainer[str]
    row_count: int
    data_snapshot: _struct_pb2.Struct
    metrics: _training_pb2.Metrics
    create_time: _timestamp_pb2.Timestamp
    training_seconds: float
    library_versions: _containers.ScalarMap[str, str]
    active: bool
    job_id: str
    evaluation: EvaluationSetMetrics
    def __init__(self, model_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., labels: _Optional[_Iterable[str]] = ..., row_count: _Optional[int] = ..., data_snapshot: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metrics: _Optional[_Union[_training_pb2.Metrics, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., training_seconds: _Optional[float] = ..., library_versions: _Optional[_Mapping[str, str]] = ..., active: _Optional[bool] = ..., job_id: _Optional[str] = ..., evaluation: _Optional[_Union[EvaluationSetMetrics, _Mapping]] = ...) -> None: ...

class EvaluationSetMetrics(_message.Message):
    __slots__ = ("set_id", "rows", "metrics")
    SET_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    set_id: str
    rows: int
    metrics: _training_pb2.Metrics
    def __init__(self, set_id: _Optional[str] = ..., rows: _Optional[int] = ..., metrics: _Optional[_Union[_training_pb2.Metrics, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token", "total_size")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    total_size: int
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model", "drift")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    model: Model
    drift: Drift
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., drift: _Optional[_Union[Drift, _Mapping]] = ...) -> None: ...

class ReferenceProfile(_message.Message):
    __slots__ = ("texts", "predicted_label_shares", "true_label_shares", "mean_top_probability", "mean_text_chars", "mean_oov_share")
    class PredictedLabelSharesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TrueLabelSharesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_LABEL_SHARES_FIELD_NUMBER: _ClassVar[int]
    TRUE_LABEL_SHARES_FIELD_NUMBER: _ClassVar[int]
    MEAN_TOP_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    MEAN_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MEAN_OOV_SHARE_FIELD_NUMBER: _ClassVar[int]
    texts: int
    predicted_label_shares: _containers.ScalarMap[str, float]
    true_label_shares: _containers.ScalarMap[str, float]
    mean_top_probability: float
    mean_text_chars: float
    mean_oov_share: float
    def __init__(self, texts: _Optional[int] = ..., predicted_label_shares: _Optional[_Mapping[str, float]] = ..., true_label_shares: _Optional[_Mapping[str, float]] = ..., mean_top_probability: _Optional[float] = ..., mean_text_chars: _Optional[float] = ..., mean_oov_share: _Optional[float] = ...) -> None: ...

class Drift(_message.Message):
    __slots__ = ("baseline", "predictions", "label_counts", "mean_top_probability", "mean_text_chars", "oov_texts", "mean_oov_share", "label_psi", "top_probability_delta", "oov_share_delta")
    class LabelCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    LABEL_COUNTS_FIELD_NUMBER: _ClassVar[int]
    MEAN_TOP_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    MEAN_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    OOV_TEXTS_FIELD_NUMBER: _ClassVar[int]
    MEAN_OOV_SHARE_FIELD_NUMBER: _ClassVar[int]
    LABEL_PSI_FIELD_NUMBER: _ClassVar[int]
    TOP_PROBABILITY_DELTA_FIELD_NUMBER: _ClassVar[int]
    OOV_SHARE_DELTA_FIELD_NUMBER: _ClassVar[int]
    baseline: ReferenceProfile
    predictions: int
    label_counts: _containers.ScalarMap[str, int]
    mean_top_probability: float
    mean_text_chars: float
    oov_texts: int
    mean_oov_share: float
    label_psi: float
    top_probability_delta: float
    oov_share_delta: float
    def __init__(self, baseline: _Optional[_Union[ReferenceProfile, _Mapping]] = ..., predictions: _Optional[int] = ..., label_counts: _Optional[_Mapping[str, int]] = ..., mean_top_probability: _Optional[float] = ..., mean_text_chars: _Optional[float] = ..., oov_texts: _Optional[int] = ..., mean_oov_share: _Optional[float] = ..., label_psi: _Optional[float] = ..., top_probability_delta: _Optional[float] = ..., oov_share_delta: _Optional[float] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class ActivateModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class ActivateModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class EvaluateModelRequest(_message.Message):
    __slots__ = ("model_id", "rows")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    rows: _containers.RepeatedCompositeFieldContainer[LabelledText]
    def __init__(self, model_id: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[LabelledText, _Mapping]]] = ...) -> None: ...

class LabelledText(_message.Message):
    __slots__ = ("text", "label")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    label: str
    def __init__(self, text: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class EvaluateModelResponse(_message.Message):
    __slots__ = ("job", "metric_record")
    JOB_FIELD_NUMBER: _ClassVar[int]
    METRIC_RECORD_FIELD_NUMBER: _ClassVar[int]
    job: _training_pb2.Job
    metric_record: MetricRecord
    def __init__(self, job: _Optional[_Union[_training_pb2.Job, _Mapping]] = ..., metric_record: _Optional[_Union[MetricRecord, _Mapping]] = ...) -> None: ...

class MetricRecord(_message.Message):
    __slots__ = ("metric_id", "model_id", "job_id", "state", "source", "row_count", "metrics", "error", "create_time", "end_time")
    METRIC_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    metric_id: str
    model_id: str
    job_id: str
    state: _training_pb2.JobState
    source: EvaluationSource
    row_count: int
    metrics: _training_pb2.Metrics
    error: str
    create_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, metric_id: _Optional[str] = ..., model_id: _Optional[str] = ..., job_id: _Optional[str] = ..., state: _Optional[_Union[_training_pb2.JobState, str]] = ..., source: _Optional[_Union[EvaluationSource, str]] = ..., row_count: _Optional[int] = ..., metrics: _Optional[_Union[_training_pb2.Metrics, _Mapping]] = ..., error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetMetricRecordRequest(_message.Message):
    __slots__ = ("metric_id",)
    METRIC_ID_FIELD_NUMBER: _ClassVar[int]
    metric_id: str
    def __init__(self, metric_id: _Optional[str] = ...) -> None: ...

class GetMetricRecordResponse(_message.Message):
    __slots__ = ("metric_record",)
    METRIC_RECORD_FIELD_NUMBER: _ClassVar[int]
    metric_record: MetricRecord
    def __init__(self, metric_record: _Optional[_Union[MetricRecord, _Mapping]] = ...) -> None: ...

class ListMetricRecordsRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class ListMetricRecordsResponse(_message.Message):
    __slots__ = ("metric_records",)
    METRIC_RECORDS_FIELD_NUMBER: _ClassVar[int]
    metric_records: _containers.RepeatedCompositeFieldContainer[MetricRecord]
    def __init__(self, metric_records: _Optional[_Iterable[_Union[MetricRecord, _Mapping]]] = ...) -> None: ...

class DeleteMetricRecordRequest(_message.Message):
    __slots__ = ("metric_id",)
    METRIC_ID_FIELD_NUMBER: _ClassVar[int]
    metric_id: str
    def __init__(self, metric_id: _Optional[str] = ...) -> None: ...

class DeleteMetricRecordResponse(_message.Message):
    __slots__ = ("metric_id",)
    METRIC_ID_FIELD_NUMBER: _ClassVar[int]
    metric_id: str
    def __init__(self, metric_id: _Optional[str] = ...) -> None: ...

class GetLiveAccuracyRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetLiveAccuracyResponse(_message.Message):
    __slots__ = ("model_id", "last_rows", "last_days", "holdout_accuracy")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ROWS_FIELD_NUMBER: _ClassVar[int]
    LAST_DAYS_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    last_rows: LiveAccuracyWindow
    last_days: LiveAccuracyWindow
    holdout_accuracy: float
    def __init__(self, model_id: _Optional[str] = ..., last_rows: _Optional[_Union[LiveAccuracyWindow, _Mapping]] = ..., last_days: _Optional[_Union[LiveAccuracyWindow, _Mapping]] = ..., holdout_accuracy: _Optional[float] = ...) -> None: ...

class LiveAccuracyWindow(_message.Message):
    __slots__ = ("size", "feedback_count", "correct_count", "accuracy", "labels")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORRECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    size: int
    feedback_count: int
    correct_count: int
    accuracy: float
    labels: _containers.RepeatedCompositeFieldContainer[LiveLabelAccuracy]
    def __init__(self, size: _Optional[int] = ..., feedback_count: _Optional[int] = ..., correct_count: _Optional[int] = ..., accuracy: _Optional[float] = ..., labels: _Optional[_Iterable[_Union[LiveLabelAccuracy, _Mapping]]] = ...) -> None: ...

class LiveLabelAccuracy(_message.Message):
    __slots__ = ("label", "precision", "recall", "support", "predicted_count", "correct_count")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORRECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    label: str
    precision: float
    recall: float
    support: int
    predicted_count: int
    correct_count: int
    def __init__(self, label: _Optional[str] = ..., precision: _Optional[float] = ..., recall: _Optional[float] = ..., support: _Optional[int] = ..., predicted_count: _Optional[int] = ..., correct_count: _Optional[int] = ...) -> None: ...
