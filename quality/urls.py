from django.urls import path

from . import views

app_name = "ops"
urlpatterns = [
    path("", views.index, name="index"),
    path("projects/<int:project_pk>/", views.project_dashboard, name="project"),
]
