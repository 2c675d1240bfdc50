from django.contrib import admin

from .models import AnnotatorProfile, Appeal, Earning, Membership, PayoutBatch, ProjectPay, QualifierAttempt, StandingChange


@admin.register(AnnotatorProfile)
class AnnotatorProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "created_at"]
    search_fields = ["display_name", "user__username", "user__email"]
    raw_id_fields = ["user"]


class QualifierAttemptInline(admin.TabularInline):
    model = QualifierAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "submitted_at", "correct", "total", "passed", "responses", "example_ids",
                       "spec_version"]

    def has_add_permission(self, request, obj=None):
        return False


class StandingChangeInline(admin.TabularInline):
    """The membership's standing history (append-only: nothing here can be edited)."""

    model = StandingChange
    extra = 0
    can_delete = False
    fields = readonly_fields = ["created_at", "from_standing", "to_standing", "source", "actor", "reason"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
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
    inlines = [QualifierAttemptInline, StandingChangeInline]


@admin.register(QualifierAttempt)
class QualifierAttemptAdmin(admin.ModelAdmin):
    list_display = ["membership", "number", "correct", "total", "passed", "submitted_at"]
    list_filter = ["passed", "membership__project"]
    search_fields = ["membership__annotator__username", "membership__project__name"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- pay, standing history, appeals (issue 3B) ---------------------------------------------
# The ledger, payouts, history and appeals are written by services only (idempotency,
# one batch per entry, append-only history): the admin shows them read-only. A project's
# rate per answer is the one thing ops edit here.

class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProjectPay)
class ProjectPayAdmin(admin.ModelAdmin):
    list_display = ["project", "per_answer", "currency", "updated_at"]
    search_fields = ["project__name"]
    raw_id_fields = ["project"]


@admin.register(Earning)
class EarningAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "annotator", "kind", "project", "amount", "currency", "source_key", "payout"]
    list_filter = ["kind", "currency"]
    search_fields = ["annotator__username", "source_key", "project__name"]
    list_select_related = ["annotator", "project", "payout"]


@admin.register(PayoutBatch)
class PayoutBatchAdmin(_ReadOnlyAdmin):
    list_display = ["period_start", "period_end", "entries", "created_by", "created_at"]


@admin.register(StandingChange)
class StandingChangeAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "membership", "from_standing", "to_standing", "source", "actor", "reason"]
    list_filter = ["source", "to_standing"]
    search_fields = ["membership__annotator__username", "membership__project__name", "reason"]


@admin.register(Appeal)
class AppealAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "membership", "standing_at_appeal", "status", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["membership__annotator__username", "text", "decision_note"]
