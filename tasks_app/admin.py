from django.contrib import admin

from cadre.admin_base import ReadOnlyAdmin

from .models import Answer, CustomerMember, Example, Item, Lease, Organization, Project


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(CustomerMember)
class CustomerMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "organization"]
    list_filter = ["organization"]
    search_fields = ["user__username", "organization__name"]
    raw_id_fields = ["user"]


class ExampleInline(admin.TabularInline):
    model = Example
    extra = 0
    fields = ["position", "role", "label", "data", "explanation"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "accuracy_target", "confidence", "max_answers", "created_at", "launched_at"]
    list_filter = ["status", "organization", "task_type"]
    search_fields = ["name", "organization__name"]
    readonly_fields = ["created_at", "launched_at"]
    inlines = [ExampleInline]


@admin.register(Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "role", "label", "position"]
    list_filter = ["role", "project"]
    search_fields = ["label", "explanation", "project__name"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "external_id", "is_known", "status", "label", "p_correct", "answers_count", "answers_wanted", "assigned"]
    list_filter = ["status", "is_known", "project"]
    search_fields = ["external_id"]
    # Counters and decisions belong to the services and the quality engine.
    readonly_fields = ["status", "label", "p_correct", "answers_wanted", "assigned", "answers_count", "decided_at", "created_at"]
    list_select_related = ["project"]


@admin.register(Lease)
class LeaseAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "item", "annotator", "state", "created_at", "expires_at"]
    list_filter = ["state", "project"]
    search_fields = ["annotator__username", "item__external_id"]
    list_select_related = ["project", "item", "annotator"]


@admin.register(Answer)
class AnswerAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "item", "annotator", "label", "is_check", "correct", "duration_ms", "created_at", "scored_at"]
    list_filter = ["is_check", "correct", "project"]
    search_fields = ["annotator__username", "item__external_id", "client_key"]
    list_select_related = ["project", "item", "annotator"]
    date_hierarchy = "created_at"


# --- issue 5: spec versions, delivery batches, webhooks (written by services: read-only) ---------

from .models import DeliveryBatch, SpecRevision, Webhook, WebhookDelivery  # noqa: E402


@admin.register(SpecRevision)
class SpecRevisionAdmin(ReadOnlyAdmin):
    list_display = ["project", "version", "material", "created_at"]
    list_filter = ["material"]


@admin.register(DeliveryBatch)
class DeliveryBatchAdmin(ReadOnlyAdmin):
    list_display = ["project", "number", "kind", "items_count", "created_at", "certificate_updated_at"]
    list_filter = ["kind"]


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["organization", "project", "url", "active", "created_at"]
    list_filter = ["active"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["webhook", "event", "status", "attempts", "last_status_code", "next_attempt_at", "created_at"]
    list_filter = ["status", "event"]
