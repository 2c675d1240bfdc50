from django.urls import path

from . import views

app_name = "ops"
urlpatterns = [
    path("", views.index, name="index"),
    path("projects/<int:project_pk>/", views.project_dashboard, name="project"),
    path("projects/<int:project_pk>/expert/", views.expert_queue, name="expert_queue"),
    path("projects/<int:project_pk>/known-flags/", views.known_flags, name="known_flags"),
]
