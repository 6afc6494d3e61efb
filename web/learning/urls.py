# Routes of the learning loop under /api/: feedback (feedback_views.py), the review queue
# (review_views.py).
urlpatterns: list = []
