"""Ops dashboard pages (issue 7, pages half): /ops/overview/ (``/ops/`` redirects here),
/ops/projects/<id>/dashboard/ (``/ops/projects/<id>/`` redirects here), each chart's JSON and
CSV, and the Prometheus endpoint /ops/metrics."""
from django.urls import path

from .views import metrics, pages

urlpatterns = [
    path("overview/", pages.overview, name="overview"),
    path("projects/<int:project_pk>/dashboard/", pages.project, name="project"),
    path("projects/<int:project_pk>/charts/<slug:chart>.json", pages.chart_json, name="chart_json"),
    path("projects/<int:project_pk>/charts/<slug:chart>.csv", pages.chart_csv, name="chart_csv"),
    path("metrics", metrics.metrics, name="metrics"),
]
