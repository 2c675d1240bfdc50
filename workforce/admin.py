from django.contrib import admin

from .models import AnnotatorProfile, Membership, QualifierAttempt


@admin.register(AnnotatorProfile)
class AnnotatorProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "created_at"]
    search_fields = ["display_name", "user__username", "user__email"]
    raw_id_fields = ["user"]


class QualifierAttemptInline(admin.TabularInline):
    model = QualifierAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "submitted_at", "correct", "total", "passed", "responses"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["annotator", "project", "stage", "standing", "qualifier_attempts", "known_check_rate", "standing_changed_at"]
    list_filter = ["stage", "standing", "project"]
    search_fields = ["annotator__username", "project__name", "standing_reason"]
    list_select_related = ["annotator", "project"]
    # Standing is the quality engine's decision (with evidence in GatingDecision); editing it
    # by hand would leave no trail, so it is read-only here.
    readonly_fields = ["standing", "standing_reason", "standing_changed_at", "known_check_rate", "qualifier_correct",
                       "qualifier_total", "qualifier_attempts", "tutorial_completed_at", "created_at"]
    inlines = [QualifierAttemptInline]


@admin.register(QualifierAttempt)
class QualifierAttemptAdmin(admin.ModelAdmin):
    list_display = ["membership", "number", "correct", "total", "passed", "submitted_at"]
    list_filter = ["passed", "membership__project"]
    search_fields = ["membership__annotator__username", "membership__project__name"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
