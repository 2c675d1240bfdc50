from django.contrib import admin

from tasks_app.admin import ReadOnlyAdmin

from .models import AnnotatorQuality, AnswerQualityModel, ExpertReview, GatingDecision, GatingState, KnownAnswerFlag


@admin.register(AnnotatorQuality)
class AnnotatorQualityAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "project", "checks", "checks_correct", "alpha", "beta", "updated_at"]
    list_filter = ["project"]
    search_fields = ["annotator__username", "project__name"]
    list_select_related = ["annotator", "project"]


@admin.register(GatingDecision)
class GatingDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "annotator", "project", "previous_standing", "standing", "checks", "checks_correct", "accuracy", "accuracy_lower", "accuracy_upper", "bar", "model_version"]
    list_filter = ["standing", "previous_standing", "project"]
    search_fields = ["annotator__username", "project__name", "reason"]
    list_select_related = ["annotator", "project"]
    date_hierarchy = "created_at"


@admin.register(GatingState)
class GatingStateAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "project", "llr", "pauses", "standing", "model_version", "updated_at"]
    list_filter = ["standing", "project"]
    search_fields = ["annotator__username", "project__name"]
    list_select_related = ["annotator", "project"]


@admin.register(ExpertReview)
class ExpertReviewAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "item", "project", "expert", "label", "p_correct", "previous_status", "method"]
    list_filter = ["project"]
    list_select_related = ["item", "project", "expert"]


@admin.register(KnownAnswerFlag)
class KnownAnswerFlagAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "item", "project", "status", "key_label", "suggested_label", "p_key_correct", "new_label"]
    list_filter = ["status", "project"]
    list_select_related = ["item", "project"]


@admin.register(AnswerQualityModel)
class AnswerQualityModelAdmin(ReadOnlyAdmin):
    list_display = ["version", "algorithm", "active", "n_train", "n_test", "auc_test", "created_at"]
    exclude = ["blob"]
