from django.contrib.auth import views as auth_views
from django.urls import path

from . import ratelimit, views
from .views import conversation, ops_people, people, skips

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
    # issue 6: the workbench (skip, progress line, instructions) and two-person conversations
    path("projects/<int:project_id>/task/skip/", views.task_skip, name="task_skip"),
    # issue 9: the workbench's own loop: submit + next task as JSON in one fetch (the page refills in place)
    path("projects/<int:project_id>/task/next.json", views.task_json, name="task_json"),
    path("projects/<int:project_id>/task/progress/", views.task_progress, name="task_progress"),
    path("projects/<int:project_id>/instructions/", views.task_instructions, name="task_instructions"),
    path("projects/<int:project_id>/conversation/", conversation.conversation, name="conversation"),
    path("projects/<int:project_id>/conversation/<int:conversation_id>/state/", conversation.conversation_state,
         name="conversation_state"),
    path("projects/<int:project_id>/conversation/<int:conversation_id>/turns/", conversation.conversation_turn,
         name="conversation_turn"),
    path("projects/<int:project_id>/conversation/<int:conversation_id>/end/", conversation.conversation_end,
         name="conversation_end"),
    path("projects/<int:project_id>/conversation/<int:conversation_id>/leave/", conversation.conversation_leave,
         name="conversation_leave"),
    path("ops/skips/", skips.ops_skips, name="ops_skips"),
    # issue 3a: vetting, profile, surveys, invitations (annotators) ...
    path("account/", people.account, name="account"),
    path("verify-email/<str:token>/", people.verify_email, name="verify_email"),
    path("profile/", people.profile, name="profile"),
    path("surveys/", people.surveys, name="surveys"),
    path("surveys/<int:survey_id>/", people.survey, name="survey"),
    path("invitations/", people.invitations, name="invitations"),
    path("invitations/<int:invitation_id>/", people.invitation_respond, name="invitation_respond"),
    # ... and their ops pages (staff), next to quality's /ops/ pages
    path("ops/people/", ops_people.people, name="ops_people"),
    path("ops/people/<int:user_id>/", ops_people.person, name="ops_person"),
    path("ops/flags/", ops_people.flags, name="ops_flags"),
    path("ops/surveys/", ops_people.surveys, name="ops_surveys"),
    path("ops/surveys/<int:survey_id>/", ops_people.survey, name="ops_survey"),
    path("ops/projects/<int:project_pk>/invitations/", ops_people.invitations, name="ops_invitations"),
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
