from django.urls import path

from web.learning.feedback_views import FeedbackView

# Routes of the learning loop under /api/: feedback (feedback_views.py), the review queue
# (review_views.py).
urlpatterns = [
    path("feedback/", FeedbackView.as_view(), name="feedback"),
]
