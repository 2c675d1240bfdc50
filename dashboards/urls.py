"""Mounted at /ops/ beside quality's and workforce's ops pages (namespace ``dashboards``).
Two route lists so the two halves of issue 7 grow independently."""
from django.urls import include, path

app_name = "dashboards"
urlpatterns = [
    path("", include("dashboards.urls_pages")),
    path("", include("dashboards.urls_analysis")),
]
