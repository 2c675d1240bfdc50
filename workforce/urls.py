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
    # pay and appeals (issue 3B); the ops pages live under /ops/ next to quality's
    path("earnings/", views.earnings, name="earnings"),
    path("projects/<int:project_id>/appeal/", views.appeal, name="appeal"),
    path("ops/pay/", views.ops_pay, name="ops_pay"),
    path("ops/pay/projects/<int:project_id>/rate/", views.ops_pay_rate, name="ops_pay_rate"),
    path("ops/payouts/", views.ops_payouts, name="ops_payouts"),
    path("ops/payouts/<int:batch_id>.csv", views.ops_payout_csv, name="ops_payout_csv"),
    path("ops/appeals/", views.ops_appeals, name="ops_appeals"),
    path("ops/appeals/<int:appeal_id>/", views.ops_appeal, name="ops_appeal"),
]
