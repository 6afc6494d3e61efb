"""What the feedback tests share: logged predictions made as the algorithm service writes
them, straight into the table, and the answer that shows a feedback."""

import datetime
import uuid

from django.utils import timezone

from web.accounts.models import ApiToken
from web.learning.models import Feedback, LoggedPrediction

URL = "/api/feedback/"
MODEL = uuid.UUID("6f1c1b7e-2f43-4c1a-9a53-0c2b1e2a7d10")
TEXT = "  Free entry to win a prize, text WIN now "


def logged(
    *,
    reference: str = "",
    text: str = TEXT,
    label: str = "spam",
    model_id: uuid.UUID = MODEL,
    ago: datetime.timedelta = datetime.timedelta(0),
) -> LoggedPrediction:
    """A prediction as the log records it; `text` empty: the policy kept only its hash."""
    return LoggedPrediction.objects.create(
        id=uuid.uuid4(),
        created_at=timezone.now() - ago,
        model_id=model_id,
        label=label,
        scores={"ham": 0.45, "spam": 0.55} if label == "spam" else {"ham": 0.55, "spam": 0.45},
        top_probability=0.55,
        margin=0.1,
        entropy=0.688,
        caller="token:0123abcd",
        request_id="",
        reference=reference,
        text=text,
        text_hash="" if text else "ab" * 32,
        text_key="cd" * 32,
        kept_because="uncertain",
    )


def giver(username: str = "alice") -> str:
    return f"token:{ApiToken.objects.filter(user__username=username).get().fingerprint}"


def body(feedback: Feedback) -> dict:
    prediction = feedback.prediction
    return {
        "id": feedback.id,
        "prediction_id": str(prediction.id),
        "reference": prediction.reference,
        "model_id": str(prediction.model_id),
        "predicted_label": prediction.label,
        "label": feedback.label,
        "correct": feedback.label == prediction.label,
        "data_id": feedback.data_row_id,
        "given_by": feedback.given_by,
        "created_at": feedback.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": feedback.updated_at.isoformat().replace("+00:00", "Z"),
    }
