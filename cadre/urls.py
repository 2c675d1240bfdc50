"""URL map: annotator web app at /, ops pages at /ops/, customer API at /api/, admin at /admin/."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from quality import api as quality_api
from tasks_app import api as tasks_api
from workforce import api as workforce_api

router = DefaultRouter()
router.register("projects", tasks_api.ProjectViewSet, basename="project")

api_urls = [
    path("", include(router.urls)),
    path(
        "projects/<int:project_pk>/items/",
        tasks_api.ProjectItemsViewSet.as_view({"get": "list", "post": "create"}),
        name="project-items",
    ),
    path("projects/<int:project_pk>/progress/", quality_api.ProgressView.as_view(), name="project-progress"),
    path("projects/<int:project_pk>/delivery/", quality_api.DeliveryView.as_view(), name="project-delivery"),
    path("projects/<int:project_pk>/audience/", workforce_api.AudienceView.as_view(), name="project-audience"),
    path("projects/<int:project_pk>/audience/estimate/", workforce_api.AudienceEstimateView.as_view(),
         name="project-audience-estimate"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema", permission_classes=[AllowAny]), name="redoc"),
]

# JSON 404 under /api/ (a path no route matches never reaches DRF); HTML elsewhere.
handler404 = "cadre.api_errors.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_urls)),
    path("ops/", include("quality.urls")),
    path("", include("workforce.urls")),
]
