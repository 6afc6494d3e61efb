from django.urls import path

from web.algorithm_proxy import monitoring_views, views

urlpatterns = [
    path("train/", views.TrainView.as_view(), name="train"),
    path("jobs/", views.JobListView.as_view(), name="job-list"),
    path("jobs/<str:job_id>/", views.JobDetailView.as_view(), name="job-detail"),
    path("predict/", views.PredictView.as_view(), name="predict"),
    path("algorithms/", views.AlgorithmListView.as_view(), name="algorithm-list"),
    path("models/", views.ModelListView.as_view(), name="model-list"),
    path("models/<str:model_id>/", views.ModelDetailView.as_view(), name="model-detail"),
    path(
        "models/<str:model_id>/activate/", views.ModelActivateView.as_view(), name="model-activate"
    ),
    path("models/<str:model_id>/retrain/", views.ModelRetrainView.as_view(), name="model-retrain"),
    path(
        "models/<str:model_id>/evaluate/", views.ModelEvaluateView.as_view(), name="model-evaluate"
    ),
    path(
        "models/<str:model_id>/metrics/", views.ModelMetricListView.as_view(), name="model-metrics"
    ),
    path("metrics/<str:metric_id>/", views.MetricDetailView.as_view(), name="metric-detail"),
    path("info/", views.InfoView.as_view(), name="info"),
    path("schedules/", monitoring_views.ScheduleListView.as_view(), name="schedule-list"),
    path(
        "schedules/<str:model_id>/",
        monitoring_views.ScheduleDetailView.as_view(),
        name="schedule-detail",
    ),
    path("results/", monitoring_views.ResultCreateView.as_view(), name="result-create"),
    path("results/<str:model_id>/", monitoring_views.AccuracyView.as_view(), name="accuracy"),
]
