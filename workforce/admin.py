from django.contrib import admin

from cadre.admin_base import ReadOnlyAdmin

from .models import AnnotatorProfile, Appeal, Earning, Membership, PayoutBatch, ProjectPay, QualifierAttempt, StandingChange


@admin.register(AnnotatorProfile)
class AnnotatorProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "status", "identity_status", "created_at"]
    list_filter = ["status", "identity_status"]
    search_fields = ["display_name", "user__username", "user__email"]
    raw_id_fields = ["user"]
    # Status and identity go through services/vetting.py (ops pages) so every change is in the history.
    readonly_fields = ["status", "email_verified_at", "identity_status", "identity_note", "identity_checked_at",
                       "identity_checked_by"]


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


# --- services-only rows (history, ledger, answers) are read-only here ---------------------------
from .models import (  # noqa: E402
    AttributeValue, Audience, Invitation, ProfileFlag, StatusChange, Survey, SurveyCompletion, SurveyQuestion,
)


# --- pay, standing history, appeals (issue 3B) ---------------------------------------------
# The ledger, payouts, history and appeals are written by services only (idempotency,
# one batch per entry, append-only history): the admin shows them read-only. A project's
# rate per answer is the one thing ops edit here.


@admin.register(ProjectPay)
class ProjectPayAdmin(admin.ModelAdmin):
    list_display = ["project", "per_answer", "currency", "updated_at"]
    search_fields = ["project__name"]
    raw_id_fields = ["project"]


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "annotator", "kind", "project", "amount", "currency", "source_key", "payout"]
    list_filter = ["kind", "currency"]
    search_fields = ["annotator__username", "source_key", "project__name"]
    list_select_related = ["annotator", "project", "payout"]


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    list_display = ["period_start", "period_end", "entries", "created_by", "created_at"]


@admin.register(StandingChange)
class StandingChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "membership", "from_standing", "to_standing", "source", "actor", "reason"]
    list_filter = ["source", "to_standing"]
    search_fields = ["membership__annotator__username", "membership__project__name", "reason"]


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "membership", "standing_at_appeal", "status", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["membership__annotator__username", "text", "decision_note"]


# --- issue 3a: vetting history, profiles, surveys, audience, invitations -----------------------

@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):  # append-only (model layer + PostgreSQL trigger)
    list_display = ["annotator", "from_status", "to_status", "actor", "reason", "created_at"]
    list_filter = ["to_status"]
    search_fields = ["annotator__username", "reason"]


@admin.register(AttributeValue)
class AttributeValueAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "key", "value", "source", "recorded_at", "is_current"]
    list_filter = ["key", "is_current"]
    search_fields = ["annotator__username"]


@admin.register(SurveyCompletion)
class SurveyCompletionAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "survey", "reward", "completed_at"]
    search_fields = ["annotator__username", "survey__title"]


@admin.register(ProfileFlag)
class ProfileFlagAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "key", "previous", "new", "created_at", "resolved_at"]
    search_fields = ["annotator__username"]


class SurveyQuestionInline(admin.TabularInline):
    model = SurveyQuestion
    extra = 0
    readonly_fields = ["position", "text", "kind", "attribute", "choices", "min_value", "max_value"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):  # questions are added on /ops/surveys/ (validated by the service)
    list_display = ["title", "reward", "is_open", "created_at"]
    readonly_fields = ["reward", "created_by", "created_at"]
    inlines = [SurveyQuestionInline]


@admin.register(Audience)
class AudienceAdmin(ReadOnlyAdmin):  # set by the customer API (validated by the service)
    list_display = ["project", "rules", "quotas", "answers_per_day", "invite_only", "updated_at"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["project", "annotator", "wave", "rank", "predicted_accuracy", "state", "created_at"]
    list_filter = ["state", "project"]
