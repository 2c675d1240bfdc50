from django.contrib import admin

from tasks_app.admin import ReadOnlyAdmin

from .models import AnnotatorQuality, GatingDecision


@admin.register(AnnotatorQuality)
class AnnotatorQualityAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "project", "checks", "checks_correct", "alpha", "beta", "updated_at"]
    list_filter = ["project"]
    search_fields = ["annotator__username", "project__name"]
    list_select_related = ["annotator", "project"]


@admin.register(GatingDecision)
class GatingDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "annotator", "project", "previous_standing", "standing", "checks", "checks_correct", "accuracy", "accuracy_lower", "accuracy_upper", "bar"]
    list_filter = ["standing", "previous_standing", "project"]
    search_fields = ["annotator__username", "project__name", "reason"]
    list_select_related = ["annotator", "project"]
    date_hierarchy = "created_at"
