# Routes of safe changes of models under /api/: the evaluation set, the promotion policy,
# challengers on demand and the decisions (views.py); traffic (traffic_views.py).
from django.urls import path

from web.promotion import traffic_views, views

urlpatterns = [
    path("evaluation-set/", views.EvaluationSetView.as_view(), name="evaluation-set"),
    path("promotion/policy/", views.PolicyView.as_view(), name="promotion-policy"),
    path("promotion/challenger/", views.ChallengerView.as_view(), name="promotion-challenger"),
    path("promotion/decisions/", views.DecisionListView.as_view(), name="promotion-decision-list"),
    path(
        "promotion/decisions/<str:decision_id>/",
        views.DecisionDetailView.as_view(),
        name="promotion-decision-detail",
    ),
    path("traffic/", traffic_views.TrafficView.as_view(), name="traffic"),
    path("traffic/shadow/", traffic_views.ShadowAgreementView.as_view(), name="traffic-shadow"),
]
