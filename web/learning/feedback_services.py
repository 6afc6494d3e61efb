from uuid import UUID

from django.db import transaction

from web.data.models import Source
from web.data.services import data_create, data_update
from web.learning.feedback_selectors import prediction_for_feedback
from web.learning.models import Feedback, LoggedPrediction


class FeedbackRefused(Exception):
    """Feedback that cannot be taken; the message says why and what to send instead."""


class PredictionNotLogged(FeedbackRefused):
    def __init__(self, *, prediction_id: UUID | None, reference: str | None) -> None:
        which = (
            f"has the id {prediction_id}"
            if prediction_id is not None
            else f"carries the reference {reference!r}"
        )
        super().__init__(
            f"No logged prediction {which}. The prediction log keeps uncertain predictions and "
            "a sample of the others, writes each a moment after its answer and deletes old "
            "ones: this one may not have been kept by the log's policy, may not be written "
            "yet (try again in a few seconds), or may be past its retention."
        )


class TextNotKept(FeedbackRefused):
    """add_to_data on a prediction the log kept no text of, and no text sent."""


class TextDiffers(FeedbackRefused):
    """A text sent that is not the one the log kept for the prediction."""


class DataChangeNotAllowed(FeedbackRefused):
    """The feedback would add or change a data row, which the caller may not do; the
    message names what would have changed it."""


class FeedbackExists(FeedbackRefused):
    def __init__(self, existing: Feedback) -> None:
        self.existing = existing
        super().__init__(
            f"Prediction {existing.prediction_id} already has feedback (label "
            f"{existing.label!r}, given {existing.created_at.isoformat(timespec='seconds')}): "
            'send "replace": true to replace it.'
        )


@transaction.atomic
def feedback_give(
    *,
    label: str,
    given_by: str,
    may_change_data: bool,
    prediction_id: UUID | None = None,
    reference: str | None = None,
    add_to_data: bool = False,
    text: str | None = None,
    replace: bool = False,
) -> tuple[Feedback, bool]:
    """The true label of a logged prediction, named by its id or by its reference (then the
    latest prediction carrying it); and whether the feedback is new (False: it replaced the
    prediction's earlier one).

    `add_to_data` also adds the prediction's text, as the log kept it or as sent in `text`,
    to the data with this label (source "feedback"), in the same transaction. Replacing
    feedback that added a row relabels that row, so that no training reads a label its giver
    took back. Both need `may_change_data` (the write scope). Raises a FeedbackRefused.
    """
    if add_to_data and not may_change_data:
        raise DataChangeNotAllowed("Adding the text to the data (add_to_data)")
    prediction = prediction_for_feedback(prediction_id=prediction_id, reference=reference)
    if prediction is None:
        raise PredictionNotLogged(prediction_id=prediction_id, reference=reference)
    data_text = _text_for_data(prediction, text)
    if add_to_data and not data_text:
        raise TextNotKept(
            f"The prediction log kept no text of prediction {prediction.id} (its policy keeps "
            'some texts as a hash only, or none): send the text predicted as "text" to add it '
            "to the data."
        )
    feedback = Feedback.objects.select_related("data_row").filter(prediction=prediction).first()
    if feedback is not None and not replace:
        raise FeedbackExists(feedback)
    created = feedback is None
    row = None if feedback is None else feedback.data_row
    if row is not None:
        if not may_change_data:
            raise DataChangeNotAllowed(
                f"Replacing feedback that added a data row (row {row.id}, which it relabels)"
            )
        data_update(data=row, label=label)
    elif add_to_data:
        row = data_create(text=data_text, label=label, source=Source.FEEDBACK)
    feedback = feedback or Feedback(prediction=prediction)
    feedback.label, feedback.given_by, feedback.data_row = label, given_by, row
    feedback.save()
    return feedback, created


def _text_for_data(prediction: LoggedPrediction, text: str | None) -> str:
    """The text a data row would get: the logged one (trimmed, as data rows are), else the
    one sent."""
    kept = prediction.text.strip()
    if text is not None and kept and text != kept:
        raise TextDiffers(
            f"This is not the text of prediction {prediction.id}, which the log kept: leave "
            '"text" out to add the logged one.'
        )
    return kept or (text or "")
