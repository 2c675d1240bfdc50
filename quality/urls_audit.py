from django.urls import path

from . import views_audit

app_name = "audits"
urlpatterns = [
    path("", views_audit.audit_list, name="list"),
    path("<int:audit_pk>/", views_audit.audit_detail, name="audit"),
    path("<int:audit_pk>/complete/", views_audit.audit_complete, name="complete"),
]
