# Routes of the learning loop under /api/: the prediction log (prediction_views.py), feedback
# (feedback_views.py), the review queue (review_views.py).
from django.urls import path

from web.learning import prediction_views, review_views
from web.learning.feedback_views import FeedbackView

urlpatterns = [
    path("predictions/", prediction_views.PredictionView.as_view(), name="predictions"),
    path(
        "predictions/export/",
        prediction_views.PredictionExportView.as_view(),
        name="predictions-export",
    ),
    path("feedback/", FeedbackView.as_view(), name="feedback"),
    path("review/", review_views.ReviewOverviewView.as_view(), name="review-overview"),
    path("review/lease/", review_views.ReviewLeaseView.as_view(), name="review-lease"),
    path("review/<int:item_id>/", review_views.ReviewDecisionView.as_view(), name="review-decide"),
]
