"""Request bodies and answers of the evaluation set, the promotion policy and its decisions."""

from rest_framework import serializers

from common import limits
from web.algorithm_proxy.serializers import TOO_LARGE, fits_a_double
from web.api.fields import StrictCharField, StrictUUIDField

# The most a proto int64 holds: ids, seeds and counts past it cannot be sent on.
_INT64_MAX = 2**63 - 1


class EvaluationSetRequestSerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=["fraction", "ids"],
        help_text="`fraction`: a share of the data table; `ids`: the rows named in `data_ids`.",
    )
    fraction = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="For `fraction`: the share of rows taken, above 0 and below 1.",
    )
    stratified = serializers.BooleanField(
        required=False,
        default=True,
        help_text="For `fraction`: each label's share taken apart (each label's share rounded, "
        "at least one row of every label that has two).",
    )
    seed = serializers.IntegerField(
        required=False, default=0, min_value=-_INT64_MAX, max_value=_INT64_MAX
    )
    new_rows_share = serializers.FloatField(
        required=False,
        default=0.0,
        min_value=0,
        max_value=1,
        help_text="The share of new review and feedback rows that join the set as they come.",
    )
    data_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=_INT64_MAX),
        required=False,
        default=list,
        max_length=limits.MAX_EVALUATION_ROWS,
        help_text="For `ids`: the data row ids (unknown ones are refused, named).",
    )

    def validate(self, attrs):
        if attrs["method"] == "fraction" and not 0 < attrs.get("fraction", 0) < 1:
            raise serializers.ValidationError(
                {"fraction": ["method fraction needs a fraction above 0 and below 1."]}
            )
        if attrs["method"] == "ids" and not attrs["data_ids"]:
            raise serializers.ValidationError({"data_ids": ["method ids needs data_ids."]})
        return attrs


class EvaluationSetSerializer(serializers.Serializer):
    set_id = serializers.UUIDField()
    create_time = serializers.DateTimeField()
    method = serializers.ChoiceField(choices=["fraction", "ids"])
    fraction = serializers.FloatField(allow_null=True)
    stratified = serializers.BooleanField()
    seed = serializers.IntegerField()
    new_rows_share = serializers.FloatField()
    synced_data_id = serializers.IntegerField(
        help_text="The highest data id already considered for joining."
    )
    row_count = serializers.IntegerField(help_text="Rows when it was made.")
    rows = serializers.IntegerField(help_text="Rows it holds that are still in the data table.")
    label_counts = serializers.DictField(child=serializers.IntegerField())


class TriggerSerializer(serializers.Serializer):
    every_new_rows = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=_INT64_MAX,
        help_text="A challenger once this many rows were added to the data since the last one.",
    )
    cron_expression = StrictCharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=100,
        help_text="A challenger at each tick of this cron expression (UTC), e.g. `0 3 * * *`.",
    )


class PolicySerializer(serializers.Serializer):
    trigger = TriggerSerializer(required=False, default=dict)
    algorithm = StrictCharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=100,
        help_text="The challenger's algorithm (`/api/algorithms/`); empty: the default one.",
    )
    parameters = serializers.DictField(required=False, default=dict)
    metric = serializers.ChoiceField(choices=["accuracy", "macro_f1"], default="accuracy")
    min_improvement = serializers.FloatField(
        required=False,
        default=0.0,
        min_value=0,
        max_value=1,
        help_text="How much the challenger's metric must exceed the champion's.",
    )
    max_recall_drop = serializers.FloatField(
        required=False,
        default=0.05,
        min_value=0,
        max_value=1,
        help_text="How much any label's recall may fall below the champion's.",
    )
    min_shadow_agreement = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="The shadow rule (null or absent: not used): a challenger that passed the "
        "checks above is first the shadow, and promoted only if it gave the champion's label "
        "on at least this share of the champion's predictions.",
    )
    min_shadow_predictions = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=limits.MAX_TRAFFIC_MIN_COUNT,
        help_text="The shadow's predictions compared before its agreement is judged (default 500).",
    )

    def validate_parameters(self, value):
        if not fits_a_double(value):
            raise serializers.ValidationError(TOO_LARGE)
        return value


class PolicyRecordSerializer(serializers.Serializer):
    policy = PolicySerializer()
    update_time = serializers.DateTimeField()
    counted_from_id = serializers.IntegerField(
        help_text="`every_new_rows` counts the data rows with a higher id than this."
    )
    last_trigger_time = serializers.DateTimeField(
        help_text="When the policy last queued a challenger (or was set); the cron counts from it."
    )


class ChallengerRequestSerializer(serializers.Serializer):
    request_id = StrictUUIDField(required=False, allow_null=True, default=None)


class DecisionSerializer(serializers.Serializer):
    decision_id = serializers.UUIDField()
    create_time = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["promotion", "canary_rollback"])
    outcome = serializers.ChoiceField(
        choices=["promoted", "kept", "rolled_back", "shadowing"],
        help_text="`shadowing`: the challenger is the shadow until a second decision on its "
        "job, `promoted` or `kept`, judges its agreement with the champion.",
    )
    champion_id = serializers.UUIDField(allow_null=True)
    candidate_id = serializers.UUIDField(allow_null=True)
    job_id = serializers.UUIDField(allow_null=True)
    reason = serializers.CharField()
    rule = serializers.DictField(help_text="The rule applied: the policy as it was then.")
    evidence = serializers.DictField(
        help_text="For a promotion: `evaluation_set` (`id`, `rows`), `metric`, `champion` and "
        "`challenger` (each `model_id`, `accuracy`, `macro_f1`, `per_label`, "
        "`confusion_matrix` on the set's rows; no champion when there was none), `checks` "
        "(each `name`, `value`, `bound`, `passed`) and, under the shadow rule, `shadow` "
        "(`since`, `min_agreement`, `min_predictions`, `counted_before`; in the final "
        "decision also `until`, `predictions`, `agreed`, `agreement`)."
    )


class DecisionPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DecisionSerializer(many=True)
