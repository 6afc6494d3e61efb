from django.urls import path
from rest_framework.routers import SimpleRouter

from web.data.export import DataExportView
from web.data.views import DataImportView, DataViewSet

router = SimpleRouter()
router.register("data", DataViewSet, basename="data")

# Before the router's routes, whose data/{id}/ would otherwise take "import" for an id.
urlpatterns = [
    path("data/import/", DataImportView.as_view(), name="data-import"),
    path("data/export/", DataExportView.as_view(), name="data-export"),
    *router.urls,
]
