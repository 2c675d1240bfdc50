"""URL map: annotator web app at /, ops pages at /ops/, customer API at /api/, admin at /admin/."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from quality import api as quality_api
from tasks_app import api as tasks_api
from tasks_app import api_conversations as conversations_api
from tasks_app import api_deliveries as deliveries_api
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
    # issue 5: pilot, spec revisions, delivery batches, exports, audits, sample size, webhooks
    path("projects/<int:project_pk>/pilot/", deliveries_api.PilotView.as_view(), name="project-pilot"),
    path("projects/<int:project_pk>/pilot/approve/", deliveries_api.PilotApproveView.as_view(), name="project-pilot-approve"),
    path("projects/<int:project_pk>/spec/", deliveries_api.SpecView.as_view(), name="project-spec"),
    path("projects/<int:project_pk>/deliveries/", deliveries_api.DeliveriesView.as_view(), name="project-deliveries"),
    path("projects/<int:project_pk>/deliveries/<int:number>/", deliveries_api.DeliveryDetailView.as_view(), name="delivery-detail"),
    path("projects/<int:project_pk>/deliveries/<int:number>/items/", deliveries_api.DeliveryItemsView.as_view(), name="delivery-items"),
    path("projects/<int:project_pk>/deliveries/<int:number>/export/", deliveries_api.DeliveryExportView.as_view(), name="delivery-export"),
    path("projects/<int:project_pk>/deliveries/<int:number>/audit/", quality_api.BatchAuditView.as_view(), name="delivery-audit"),
    path("projects/<int:project_pk>/conversations/", conversations_api.ConversationsView.as_view(),
         name="project-conversations"),
    path("sample-size/", quality_api.SampleSizeView.as_view(), name="sample-size"),
    path("webhooks/", deliveries_api.WebhooksView.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", deliveries_api.WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/deliveries/", deliveries_api.WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
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
    path("ops/", include("dashboards.urls")),
    path("review/audits/", include("quality.urls_audit")),
    path("", include("workforce.urls")),
]
