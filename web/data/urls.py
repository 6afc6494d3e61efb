from rest_framework.routers import SimpleRouter

from web.data.views import DataViewSet

router = SimpleRouter()
router.register("data", DataViewSet, basename="data")

urlpatterns = router.urls
