from django.contrib.auth import views as auth_views
from django.urls import path

from . import ratelimit, views

app_name = "workforce"
urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", ratelimit.LoginView.as_view(redirect_authenticated_user=True), name="login"),  # login limits
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/<int:project_id>/", views.project_detail, name="project"),
    path("projects/<int:project_id>/tutorial/", views.tutorial, name="tutorial"),
    path("projects/<int:project_id>/qualifier/", views.qualifier, name="qualifier"),
    path("projects/<int:project_id>/qualifier/attempts/<int:number>/", views.qualifier_result, name="qualifier_result"),
    path("projects/<int:project_id>/task/", views.task, name="task"),
]
