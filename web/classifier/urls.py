from django.urls import path

from web.classifier import views

urlpatterns = [
    path("train/", views.TrainView.as_view(), name="train"),
    path("jobs/<str:job_id>/", views.JobDetailView.as_view(), name="job-detail"),
    path("predict/", views.PredictView.as_view(), name="predict"),
    path("algorithms/", views.AlgorithmListView.as_view(), name="algorithm-list"),
]
