"""Customers, projects and the work itself: items, examples, leases, answers.

tasks_app is the bottom layer: it imports neither workforce nor quality. Rules that span
apps live in the upper apps' services; the database constraints that keep the data sane
live here.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Organization(models.Model):
    """A customer: owns projects; its members call the API with their tokens."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class CustomerMember(models.Model):
    """Links a Django user (who holds an API token) to the organization they act for."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        COMPLETE = "complete", "Complete"

    class TaskType(models.TextChoices):
        """What an annotator produces (issue 6). ``labels`` keeps the closed label list for the
        categorical types; ``type_config`` holds what the other types need (scale bounds, the
        number of candidates, conversation roles, ...). Answers of every type keep a string
        ``label`` (the canonical form the engine counts and compares) and, for the structured
        types, the full ``value`` (JSON)."""

        SINGLE_CHOICE = "single_choice", "Single choice"
        MULTI_CHOICE = "multi_choice", "Multiple choice"
        RATING = "rating", "Rating scale"
        TEXT = "text", "Free text / keywords"
        BBOX = "bbox", "Bounding boxes"
        MOST_SIMILAR = "most_similar", "Most similar of N"
        CONVERSATION = "conversation", "Two-person conversation"

    class Phase(models.TextChoices):
        """Where the project is in its life (tasks_app.services.phases drives it and sets
        ``status`` to match: annotators work while ``status`` is live, i.e. in pilot and production)."""

        DRAFT = "draft", "Draft"
        PILOT = "pilot", "Pilot"
        PILOT_REVIEW = "pilot_review", "Pilot review"
        PRODUCTION = "production", "Production"
        COMPLETE = "complete", "Complete"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    instructions = models.TextField()
    task_type = models.CharField(max_length=32, choices=TaskType.choices, default=TaskType.SINGLE_CHOICE)
    labels = models.JSONField(help_text="Ordered list of the label values an annotator can choose.")
    type_config = models.JSONField(
        default=dict, blank=True, help_text="Settings of the task type beyond the label list (validated per type)."
    )
    accuracy_target = models.FloatField(help_text="Delivery accuracy the customer asked for, e.g. 0.95.")
    confidence = models.FloatField(default=0.95, help_text="Confidence level of the accuracy claim.")
    annotator_bar = models.FloatField(
        null=True, blank=True, help_text="Minimum annotator accuracy; empty = the engine's default for the label count."
    )
    max_answers = models.PositiveSmallIntegerField(
        default=10, help_text="Cap on answers per item (the crowd replay measured 10 better than 5: BENCHMARKS.md)."
    )
    qualifier_pass_mark = models.FloatField(default=0.8)
    qualifier_max_attempts = models.PositiveSmallIntegerField(default=2)
    qualifier_wait_seconds = models.PositiveIntegerField(default=24 * 3600)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    spec_version = models.PositiveIntegerField(
        default=1, help_text="Grows by one each time the customer revises the spec (instructions, labels, examples)."
    )
    requalify_from_version = models.PositiveIntegerField(
        default=1,
        help_text="Annotators qualified on an earlier spec version than this must qualify again (a material change).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.DRAFT)
    pilot_size = models.PositiveIntegerField(
        default=0, help_text="Items in the current pilot (the first N by upload order); 0 = no pilot run yet."
    )
    batch_size = models.PositiveIntegerField(
        default=1000, help_text="A delivery batch is cut every this many newly decided items (0 = only on request)."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(accuracy_target__gt=0) & Q(accuracy_target__lt=1), name="project_target_in_0_1"
            ),
            models.CheckConstraint(condition=Q(confidence__gt=0.5) & Q(confidence__lt=1), name="project_confidence_range"),
            models.CheckConstraint(condition=Q(max_answers__gte=1), name="project_max_answers_positive"),
            models.CheckConstraint(
                condition=Q(qualifier_pass_mark__gte=0) & Q(qualifier_pass_mark__lte=1), name="project_pass_mark_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Example(models.Model):
    """A customer example with its correct answer.

    Each example plays one role, chosen by the customer or split automatically at creation
    (see ``tasks_app.services.example_roles_split``): ``tutorial`` (shown with instant
    feedback), ``qualifier`` (the graded quiz), or ``known`` (a hidden known-answer item
    mixed into the task stream — it also exists as an :class:`Item` with ``is_known``).
    """

    class Role(models.TextChoices):
        TUTORIAL = "tutorial", "Tutorial"
        QUALIFIER = "qualifier", "Qualifier"
        KNOWN = "known", "Hidden known-answer item"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="examples")
    data = models.JSONField()
    label = models.CharField(max_length=200)
    value = models.JSONField(null=True, blank=True, help_text="Structured correct answer for non-categorical types.")
    explanation = models.TextField(blank=True, default="")
    role = models.CharField(max_length=16, choices=Role.choices)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["project", "role"])]


class Item(models.Model):
    """One unit of work. Known-answer items (``is_known``) look exactly like the others to
    annotators; their ``known_label`` never leaves the server except to the customer's API.

    ``answers_wanted`` is the dynamic overlap: how many answers the item should have now.
    It starts at 1 and the quality engine raises it by one when the answers so far are not
    enough, up to the project's cap. ``assigned`` counts answers plus live leases, so the
    lease query can refuse an item that already has all the people it needs.

    A *repeat* (``repeat_of`` set, status ``repeat``, ``is_known``, empty ``known_label``) is a
    hidden copy of an answered item of a subjective project, shown again to the same annotator
    later to measure self-consistency (``tasks_app.services.repeats``). Its status keeps it out of
    both pick queries and ``is_known`` out of deliveries, exports, counts and the customer's API.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        EXHAUSTED = "exhausted", "Uncertain at the cap"
        HELD = "held", "Held back until the pilot is approved"

    # A hidden repeat's status (tasks_app.services.repeats). Not a choice on purpose: the customer
    # API's status enum and filters are built from the choices, and repeats never reach customers.
    STATUS_REPEAT = "repeat"

    # no index of its own: every index below that starts with project_id serves a project_id filter
    # (issue 9: each index is paid on every write of the row, two item updates per annotation)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items", db_index=False)
    external_id = models.CharField(max_length=200)
    data = models.JSONField()
    is_known = models.BooleanField(default=False)
    known_label = models.CharField(max_length=200, null=True, blank=True)
    known_value = models.JSONField(null=True, blank=True, help_text="Structured known answer (non-categorical types).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    answers_wanted = models.PositiveSmallIntegerField(default=1)
    assigned = models.PositiveSmallIntegerField(default=0)
    answers_count = models.PositiveSmallIntegerField(default=0)
    label = models.CharField(max_length=200, null=True, blank=True)
    value = models.JSONField(null=True, blank=True, help_text="Decided structured answer (non-categorical types).")
    p_correct = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(
        null=True, blank=True, help_text="When its current decision went out in a delivery batch (cleared when an audit reopens it)."
    )
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeats", db_index=False,
        help_text="A hidden repeat (subjective projects, tasks_app.services.repeats): the item it copies.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="item_external_id_unique"),
            # the target of the answers' and leases' composite foreign key (ITEM_PROJECT_FK). One more
            # index on every (never HOT) item update; it does not replace item_id_range_idx: asked for
            # min/max id of the regular items, the planner may walk the primary key through other
            # projects' rows instead (EXPLAIN: 5,030 rows removed by filter at 25k items), where the
            # (project, is_known, id) index is two exact probes
            models.UniqueConstraint(fields=["project", "id"], name="item_project_id_unique"),
            # one repeat clone per original, shared by everyone who answered the original
            models.UniqueConstraint(fields=["repeat_of"], condition=Q(repeat_of__isnull=False), name="item_one_repeat_per_original"),
            models.CheckConstraint(
                condition=Q(is_known=False) | Q(known_label__isnull=False), name="item_known_has_label"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "is_known", "status", "id"], name="item_pick_idx"),
            # The lease query's two groups of regular items (bench/load.py, issue 9): only items that
            # still need someone are in these, so the scan from a random id finds one in a few index
            # entries instead of walking every open item of the project (O(items) per next task).
            models.Index(
                fields=["project", "id"],
                condition=Q(is_known=False, status="open", answers_count__gt=0, assigned__lt=F("answers_wanted")),
                name="item_pick_progress_idx",
            ),
            models.Index(
                fields=["project", "id"],
                condition=Q(is_known=False, status="open", answers_count=0, assigned__lt=F("answers_wanted")),
                name="item_pick_fresh_idx",
            ),
            # min/max id of a project's (known or regular) items for the random pivot: two index probes.
            models.Index(fields=["project", "is_known", "id"], name="item_id_range_idx"),
            # Decided items not delivered yet: what the next delivery batch takes (a few index entries,
            # not a scan of a 1M-item project every minute).
            models.Index(
                fields=["project", "id"],
                condition=Q(is_known=False, status__in=["accepted", "exhausted"], delivered_at__isnull=True),
                name="item_undelivered_idx",
            ),
            # decided recently: the pay accrual's watermark walk (workforce.services.pay) reads the
            # answers of items decided since its last run through this
            models.Index(fields=["decided_at"], name="item_decided_idx", condition=Q(decided_at__isnull=False)),
        ]


# ITEM_PROJECT_FK (issue 9, i9fk): an answer's and a lease's (item_id, project_id) reference
# item(id, project_id) — one composite foreign key each (answer_item_project_fk,
# lease_item_project_fk, created by migration 0014 in SQL: Django has no composite foreign keys),
# in place of the two plain ones Django made (item_id -> item, project_id -> project). It keeps
# every guarantee they gave (the item exists; its project exists, by item's own foreign key) and
# adds one (the row's project is its item's). Why: the check of a plain project_id key locks the
# ONE project row FOR KEY SHARE from every annotator's transaction at once (two per annotation),
# which makes PostgreSQL create and look up a MultiXact for that hot row; the composite key locks
# the item row instead, which the same statement already writes, and is one check instead of two.
# Measured (BENCHMARKS "PostgreSQL's cost per annotation"): MultiXacts 0.2-0.5 per annotation -> 0;
# PostgreSQL CPU per annotation unchanged within the noise of the loaded machine it was measured on.
# The fields keep ``db_constraint=False`` so Django does not recreate the plain keys; deletes still
# cascade in Django as before. Like Django's own, the keys are DEFERRABLE INITIALLY DEFERRED.
ITEM_PROJECT_FK = {"tasks_app_answer": "answer_item_project_fk", "tasks_app_lease": "lease_item_project_fk"}


class Lease(models.Model):
    """An item handed to one annotator until ``expires_at``."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"
        SKIPPED = "skipped", "Skipped by the annotator"

    class SkipReason(models.TextChoices):
        """Why an annotator skipped (the task page's list; ``other`` comes with a note)."""

        UNCLEAR = "unclear", "The instructions do not cover this item"
        BROKEN = "broken", "The item is broken or does not load"
        OFFENSIVE = "offensive", "The content is offensive or upsetting"
        LANGUAGE = "language", "I do not know the language well enough"
        OTHER = "other", "Other (say why)"

    # item_id and project_id: one composite foreign key (lease_item_project_fk, see ITEM_PROJECT_FK)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases", db_constraint=False)
    # project_id filters use lease_annotator_idx (project_id first); see Item.project
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="leases", db_index=False,
                                db_constraint=False)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    skip_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True, default="")
    skip_note = models.CharField(max_length=200, blank=True, default="", help_text="The annotator's words when the reason is 'other'.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], condition=Q(state="active"), name="lease_one_active_per_item_annotator"
            ),
            # A skip always says why: a reason from the list, and words when it is "other".
            models.CheckConstraint(
                condition=~Q(state="skipped") | (~Q(skip_reason="") & (~Q(skip_reason="other") | ~Q(skip_note=""))),
                name="lease_skip_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "annotator", "state"], name="lease_annotator_idx"),
            # only live leases: the expiry sweep and the dashboards' expiring/overdue counts read
            # state = 'active' alone, and a lease leaving that state (submit, release, skip, expiry)
            # then writes no entry for its new row version here (issue 9)
            models.Index(fields=["expires_at"], condition=Q(state="active"), name="lease_live_expiry_idx"),
            # skips per project and reason for ops (only skipped rows are in it)
            models.Index(fields=["project", "skip_reason"], condition=Q(state="skipped"), name="lease_skip_idx"),
            # the pick's "not skipped by this annotator" probe (picking._TAKE_LEG); with the live-lease
            # unique constraint it answers "does this annotator hold or have skipped this item" in two
            # lookups whatever the number of leases on the item, and only a skip writes to it
            models.Index(fields=["item", "annotator"], condition=Q(state="skipped"), name="lease_skipped_idx"),
        ]


class Answer(models.Model):
    """An annotator's answer. ``client_key`` makes submission idempotent; ``scored_at`` makes
    scoring idempotent (the scoring task skips answers already scored)."""

    # No single-column FK indexes (issue 9): every answer insert paid for three indexes that the
    # composite ones below already give, each starting with the same column — item_id:
    # answer_one_per_item_annotator and answer_item_idx; annotator_id: answer_client_key_unique;
    # project_id: answer_annotator_idx.
    # item_id and project_id: one composite foreign key (answer_item_project_fk, see ITEM_PROJECT_FK)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="answers", db_index=False, db_constraint=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="answers", db_index=False,
                                db_constraint=False)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answers", db_index=False)
    label = models.CharField(max_length=200)
    value = models.JSONField(null=True, blank=True, help_text="Structured answer (non-categorical types); label holds its canonical form.")
    client_key = models.CharField(max_length=64)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    signals = models.JSONField(
        default=dict,
        blank=True,
        help_text="Behaviour the task page reports with the answer (documented in README: time on task, paste and "
        "focus-change counts); nothing else about the person.",
    )
    is_check = models.BooleanField(default=False, help_text="Answer to a hidden known-answer item.")
    correct = models.BooleanField(null=True, blank=True, help_text="For checks: matched the known answer.")
    weight = models.FloatField(
        null=True, blank=True,
        help_text="Answer-quality weight in [0, 1] set when the answer is scored (quality.services.answer_weight: "
        "behaviour signals against the active answer-quality model); null = not weighed (full weight).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotator", "client_key"], name="answer_client_key_unique"),
            models.UniqueConstraint(fields=["item", "annotator"], name="answer_one_per_item_annotator"),
        ]
        indexes = [
            models.Index(fields=["item", "id"], name="answer_item_idx"),
            # id last: "their newest answers on the project" is a backward walk of a few entries
            # (hidden repeats' gap and candidates, the chance level's window), not a sort of their
            # whole history; every (project, annotator) lookup is served as before
            models.Index(fields=["project", "annotator", "id"], name="answer_annotator_idx"),
            models.Index(fields=["created_at"], name="answer_unscored_idx", condition=Q(scored_at__isnull=True)),
            # scored recently: the pay accrual's watermark walk (workforce.services.pay) and the
            # windowed decision-latency metric (dashboards.selectors.metrics) read a time range of
            # this, so neither rescans every scored answer in history
            models.Index(fields=["scored_at"], name="answer_scored_idx", condition=Q(scored_at__isnull=False)),
        ]


class Conversation(models.Model):
    """A two-person conversation (task type ``conversation``, issue 6): two annotators paired on
    one scenario item, role 0 (``first``) and role 1 (``second``) of the project's
    ``type_config["roles"]``, taking turns. ``tasks_app.services.conversations`` writes it.

    waiting (one person, looking for a partner) → active (paired) → finished (a complete
    dialogue; it may become an item of the labelling project, ``labelling_item``) or abandoned
    (a partner left or timed out: its turns are deleted, the scenario goes back to the pool).
    """

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for a partner"
        ACTIVE = "active", "In progress"
        FINISHED = "finished", "Finished"
        ABANDONED = "abandoned", "Abandoned"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="conversations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="conversations")
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    first = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations_first")
    second = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="conversations_second"
    )
    first_seen_at = models.DateTimeField(help_text="Last time role 0's page asked for news (presence).")
    second_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paired_at = models.DateTimeField(null=True, blank=True)
    last_turn_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True, default="")
    labelling_item = models.OneToOneField(
        Item, on_delete=models.SET_NULL, null=True, blank=True, related_name="source_conversation",
        help_text="The finished dialogue as an item of the labelling project the spec names.",
    )

    class Meta:
        constraints = [
            # A scenario has at most one conversation that is live or finished.
            models.UniqueConstraint(
                fields=["item"], condition=Q(state__in=["waiting", "active", "finished"]), name="conversation_one_per_item"
            ),
            models.CheckConstraint(condition=~Q(first=F("second")), name="conversation_two_people"),
            models.CheckConstraint(
                condition=Q(state="waiting", second__isnull=True) | (~Q(state="waiting") & Q(paired_at__isnull=False))
                | Q(state="abandoned"),
                name="conversation_paired_unless_waiting",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "id"], condition=Q(state="waiting"), name="conversation_waiting_idx"),
            models.Index(fields=["project", "id"], condition=Q(state="finished"), name="conversation_finished_idx"),
        ]


class Turn(models.Model):
    """One turn of a conversation: ``position`` 0, 1, 2, … alternating roles (role = position % 2)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveSmallIntegerField()
    role = models.PositiveSmallIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="turns")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "position"], name="turn_position_unique"),
            models.CheckConstraint(condition=Q(role__in=[0, 1]), name="turn_role_0_or_1"),
        ]


class SpecRevision(models.Model):
    """One version of a project's spec (instructions, labels, examples), kept readable after
    the customer revises it. Version 1 is stored the first time the spec is revised."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="spec_revisions")
    version = models.PositiveIntegerField()
    instructions = models.TextField()
    labels = models.JSONField()
    examples = models.JSONField(help_text="The examples of this version: data, label, explanation, role.")
    material = models.BooleanField(default=False, help_text="Annotators qualified on earlier versions must re-qualify.")
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="spec_revision_unique")]


class DeliveryBatch(models.Model):
    """An incremental delivery: the items decided since the previous batch, frozen as they were
    delivered (``DeliveryBatchItem``), with the accuracy certificate computed when it was cut
    and updated by its audit."""

    class Kind(models.TextChoices):
        PILOT = "pilot", "Pilot"
        INCREMENTAL = "incremental", "Every N decided items"
        REQUESTED = "requested", "On request"
        FINAL = "final", "At completion"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="delivery_batches")
    number = models.PositiveIntegerField(help_text="1, 2, ... per project.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    items_count = models.PositiveIntegerField(default=0)
    spec_version = models.PositiveIntegerField(default=1)
    certificate = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    certificate_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="delivery_batch_number_unique")]


class DeliveryBatchItem(models.Model):
    """An item as delivered in a batch: label, calibrated P(correct), answers used, status."""

    batch = models.ForeignKey(DeliveryBatch, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="deliveries")
    external_id = models.CharField(max_length=200)
    label = models.CharField(max_length=200, null=True)
    p_model = models.FloatField(null=True, help_text="The engine's model probability at the decision.")
    p_correct = models.FloatField(null=True, help_text="Calibrated P(label correct); set when the batch is certified.")
    answers_used = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16)

    class Meta:
        # (batch, item) unique: its index is also the export's stable order (item id = upload order).
        constraints = [models.UniqueConstraint(fields=["batch", "item"], name="delivery_batch_item_unique")]


class Webhook(models.Model):
    """A URL a customer registered for events of their organization (all its projects, or one)."""

    class Event(models.TextChoices):
        PILOT_READY = "pilot.ready", "Pilot ready for review"
        DELIVERY_READY = "delivery.ready", "Delivery batch ready"
        PROJECT_COMPLETE = "project.complete", "Project complete"
        ITEM_REOPENED = "item.reopened", "Delivered items went back to work"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhooks")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=80, help_text="HMAC-SHA256 key; shown to the customer once, at creation.")
    events = models.JSONField(help_text="Event names this URL receives.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook, with its attempts: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (will retry)"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (retries spent)"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    event_id = models.UUIDField(unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_due_idx", condition=Q(status="pending")),
        ]


class IdempotencyKey(models.Model):
    """A POST's ``Idempotency-Key``: the request's fingerprint and, once it succeeded, the
    response to replay for the same key and body."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while in progress.")
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]
