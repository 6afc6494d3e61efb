import datetime

from algorithm.v1 import training_pb2 as _training_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvaluationSet(_message.Message):
    __slots__ = ("set_id", "create_time", "method", "fraction", "stratified", "seed", "new_rows_share", "synced_data_id", "row_count", "rows", "label_counts")
    class LabelCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SET_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    STRATIFIED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NEW_ROWS_SHARE_FIELD_NUMBER: _ClassVar[int]
    SYNCED_DATA_ID_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    LABEL_COUNTS_FIELD_NUMBER: _ClassVar[int]
    set_id: str
    create_time: _timestamp_pb2.Timestamp
    method: str
    fraction: float
    stratified: bool
    seed: int
    new_rows_share: float
    synced_data_id: int
    row_count: int
    rows: int
    label_counts: _containers.ScalarMap[str, int]
    def __init__(self, set_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., method: _Optional[str] = ..., fraction: _Optional[float] = ..., stratified: _Optional[bool] = ..., seed: _Optional[int] = ..., new_rows_share: _Optional[float] = ..., synced_data_id: _Optional[int] = ..., row_count: _Optional[int] = ..., rows: _Optional[int] = ..., label_counts: _Optional[_Mapping[str, int]] = ...) -> None: ...

class GetEvaluationSetRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetEvaluationSetResponse(_message.Message):
    __slots__ = ("evaluation_set",)
    EVALUATION_SET_FIELD_NUMBER: _ClassVar[int]
    evaluation_set: EvaluationSet
    def __init__(self, evaluation_set: _Optional[_Union[EvaluationSet, _Mapping]] = ...) -> None: ...

class CreateEvaluationSetRequest(_message.Message):
    __slots__ = ("method", "fraction", "stratified", "seed", "new_rows_share", "data_ids")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    STRATIFIED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NEW_ROWS_SHARE_FIELD_NUMBER: _ClassVar[int]
    DATA_IDS_FIELD_NUMBER: _ClassVar[int]
    method: str
    fraction: float
    stratified: bool
    seed: int
    new_rows_share: float
    data_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, method: _Optional[str] = ..., fraction: _Optional[float] = ..., stratified: _Optional[bool] = ..., seed: _Optional[int] = ..., new_rows_share: _Optional[float] = ..., data_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class CreateEvaluationSetResponse(_message.Message):
    __slots__ = ("evaluation_set",)
    EVALUATION_SET_FIELD_NUMBER: _ClassVar[int]
    evaluation_set: EvaluationSet
    def __init__(self, evaluation_set: _Optional[_Union[EvaluationSet, _Mapping]] = ...) -> None: ...

class DeleteEvaluationSetRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteEvaluationSetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PromotionTrigger(_message.Message):
    __slots__ = ("every_new_rows", "cron_expression")
    EVERY_NEW_ROWS_FIELD_NUMBER: _ClassVar[int]
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    every_new_rows: int
    cron_expression: str
    def __init__(self, every_new_rows: _Optional[int] = ..., cron_expression: _Optional[str] = ...) -> None: ...

class PromotionPolicy(_message.Message):
    __slots__ = ("trigger", "algorithm", "parameters", "metric", "min_improvement", "max_recall_drop", "min_shadow_agreement", "min_shadow_predictions")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    MIN_IMPROVEMENT_FIELD_NUMBER: _ClassVar[int]
    MAX_RECALL_DROP_FIELD_NUMBER: _ClassVar[int]
    MIN_SHADOW_AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    MIN_SHADOW_PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    trigger: PromotionTrigger
    algorithm: str
    parameters: _struct_pb2.Struct
    metric: str
    min_improvement: float
    max_recall_drop: float
    min_shadow_agreement: float
    min_shadow_predictions: int
    def __init__(self, trigger: _Optional[_Union[PromotionTrigger, _Mapping]] = ..., algorithm: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metric: _Optional[str] = ..., min_improvement: _Optional[float] = ..., max_recall_drop: _Optional[float] = ..., min_shadow_agreement: _Optional[float] = ..., min_shadow_predictions: _Optional[int] = ...) -> None: ...

class PromotionPolicyRecord(_message.Message):
    __slots__ = ("policy", "update_time", "counted_from_id", "last_trigger_time")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FROM_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_TRIGGER_TIME_FIELD_NUMBER: _ClassVar[int]
    policy: PromotionPolicy
    update_time: _timestamp_pb2.Timestamp
    counted_from_id: int
    last_trigger_time: _timestamp_pb2.Timestamp
    def __init__(self, policy: _Optional[_Union[PromotionPolicy, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., counted_from_id: _Optional[int] = ..., last_trigger_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: PromotionPolicyRecord
    def __init__(self, policy: _Optional[_Union[PromotionPolicyRecord, _Mapping]] = ...) -> None: ...

class SetPolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: PromotionPolicy
    def __init__(self, policy: _Optional[_Union[PromotionPolicy, _Mapping]] = ...) -> None: ...

class SetPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: PromotionPolicyRecord
    def __init__(self, policy: _Optional[_Union[PromotionPolicyRecord, _Mapping]] = ...) -> None: ...

class DeletePolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeletePolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TrainChallengerRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class TrainChallengerResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _training_pb2.Job
    def __init__(self, job: _Optional[_Union[_training_pb2.Job, _Mapping]] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("decision_id", "create_time", "kind", "outcome", "champion_id", "candidate_id", "job_id", "reason", "rule", "evidence")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    create_time: _timestamp_pb2.Timestamp
    kind: str
    outcome: str
    champion_id: str
    candidate_id: str
    job_id: str
    reason: str
    rule: _struct_pb2.Struct
    evidence: _struct_pb2.Struct
    def __init__(self, decision_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., outcome: _Optional[str] = ..., champion_id: _Optional[str] = ..., candidate_id: _Optional[str] = ..., job_id: _Optional[str] = ..., reason: _Optional[str] = ..., rule: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., evidence: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListDecisionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDecisionsResponse(_message.Message):
    __slots__ = ("decisions", "next_page_token", "total_size")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[Decision]
    next_page_token: str
    total_size: int
    def __init__(self, decisions: _Optional[_Iterable[_Union[Decision, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("decision_id",)
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    def __init__(self, decision_id: _Optional[str] = ...) -> None: ...

class GetDecisionResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...
