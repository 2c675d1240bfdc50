"""Demographic analysis and label-error suspects (issue 7, ``dashboards.views.analysis``)."""
from django.urls import path

from .views import analysis

urlpatterns = [
    path("projects/<int:project_pk>/demographics/", analysis.demographics, name="demographics"),
    path("projects/<int:project_pk>/demographics.csv", analysis.demographics_csv, name="demographics_csv"),
    path("projects/<int:project_pk>/suspects/", analysis.suspects, name="suspects"),
    path("projects/<int:project_pk>/suspects/runs/<int:run_pk>/", analysis.suspect_run, name="suspect_run"),
    path("projects/<int:project_pk>/suspects/runs/<int:run_pk>.csv", analysis.suspect_run_csv, name="suspect_run_csv"),
    path("suspects/<int:suspect_pk>/review/", analysis.suspect_review, name="suspect_review"),
]
