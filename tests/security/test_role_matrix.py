"""Every URL pattern × every role in one table (doccano's habit, see DESIGN.md).

``TABLE`` maps each URL pattern of the project (its full route as the resolver spells it),
for each HTTP method exercised, to the expected response per role: a status, optionally
where it redirects, text that must / must not be in the body, and whether the request may
change the database (a refused state-changing request must leave every row count and every
project's status as it was).

``test_every_url_pattern_is_in_the_table`` walks ``django.urls.get_resolver()`` and fails on
a pattern missing from the table: adding an endpoint means deciding here who may use it.
Django admin's own URLs are left out, except two representative rows (index, a changelist).

Roles (fixtures in conftest.py): anonymous, annotator (working, active), unqualified
(tutorial done, qualifier not passed), warned, revoked, customer_a (owns the project),
customer_b (another organization), staff (ops, is_staff), admin (superuser), paused (standing
paused by gating: no tasks, sent back to the tutorial).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Callable

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "annotator", "unqualified", "warned", "revoked", "paused", "customer_a", "customer_b", "staff", "admin"]
ANNOTATORS = ["annotator", "unqualified", "warned", "revoked", "paused"]
NOT_ANNOTATORS = ["customer_a", "customer_b", "staff", "admin"]  # signed in, no annotator profile
NOT_CUSTOMERS = ANNOTATORS + ["staff", "admin"]


@dataclass(frozen=True)
class E:
    """Expected response: status, redirect target prefix, body must contain / must not
    contain, and whether the request may change the database."""

    status: int
    redirect: str | None = None
    contains: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    changes: bool = False


@dataclass(frozen=True)
class Row:
    route: str  # full route as the resolver spells it
    method: str
    kind: str  # "api" (token auth) or "web" (session)
    url: Callable  # world -> path
    expect: dict = field(default_factory=dict)  # role -> E
    body: Callable | None = None  # (world, role) -> request data


def roles(**by_role) -> dict:
    """Expectations keyed by role; ``_group`` keys expand: annotators, not_annotators, ..."""
    groups = {"annotators": ANNOTATORS, "not_annotators": NOT_ANNOTATORS, "not_customers": NOT_CUSTOMERS,
              "signed_in": ROLES[1:]}
    out: dict = {}
    for key, exp in by_role.items():
        for role in groups.get(key, [key]):
            out[role] = exp
    return out


# --- expectation builders --------------------------------------------------------------------

def api_customer(ok: E, *, other_org: E | None = None) -> dict:
    """Customer API on customer A's resources: anonymous 401, token without a customer 403,
    customer B 404 (does not learn the project exists), customer A ``ok``."""
    return roles(
        anonymous=E(401, changes=False),
        not_customers=E(403),
        customer_b=other_org or E(404, absent=("PROJECT-A",)),
        customer_a=ok,
    )


def api_public() -> dict:
    return roles(anonymous=E(200), signed_in=E(200))


LOGIN = "/login/?next="
ADMIN_LOGIN = "/admin/login/?next="


def web_annotator(**overrides) -> dict:
    """Annotator pages: anonymous → login; annotators 200 unless overridden; accounts that are
    not annotators (customers, ops, admin) 403: they must not join projects or answer."""
    exp = roles(anonymous=E(302, redirect=LOGIN), annotators=E(200), not_annotators=E(403))
    exp.update(roles(**overrides))
    return exp


def web_ops() -> dict:
    return roles(anonymous=E(302, redirect=LOGIN), annotators=E(403), customer_a=E(403), customer_b=E(403),
                 staff=E(200), admin=E(200))


def ops_post() -> dict:
    """A state-changing ops form: staff and admin change something and are redirected back."""
    return roles(anonymous=E(302, redirect=LOGIN), annotators=E(403), customer_a=E(403), customer_b=E(403),
                 staff=E(302, changes=True), admin=E(302, changes=True))


def verify_token(w) -> str:
    from workforce.services.vetting import email_token

    return email_token(annotator=w.users["annotator"])


def task_body(w, role):
    return {"lease_id": w.lease_for(role).pk, "label": "cat", "client_key": uuid.uuid4().hex, "started": "x"}


def qualifier_body(w, role):
    from tasks_app.models import Example

    return {f"q-{ex.pk}": ex.label for ex in Example.objects.filter(project=w.project, role="qualifier")}


def project_spec(w, role):
    return {
        "name": f"new by {role}", "instructions": "Which animal?", "labels": ["cat", "dog"], "accuracy_target": 0.9,
        "examples": [{"data": {"text": f"ex {i}"}, "label": ["cat", "dog"][i % 2]} for i in range(6)],
    }


def items_body(w, role):
    return {"items": [{"external_id": f"new-{role}", "data": {"text": "a new animal"}}]}



# --- issue 5: delivery batches, audits, webhooks (made on first use by a row's url) ------------

def batch_of(w):
    """Batch 1 of project A: its items decided (as the engine would) and delivered."""
    from tasks_app import services as task_services
    from tasks_app.models import DeliveryBatch, Item

    batch = DeliveryBatch.objects.filter(project=w.project, number=1).first()
    if batch is None:
        for item in Item.objects.filter(project=w.project, is_known=False):
            item.status, item.label, item.p_correct = "accepted", "cat", 0.97
            item.save()
        batch = task_services.batch_cut(project=w.project, kind="requested")
    return batch


def audit_of(w):
    from quality.models import Audit
    from quality.services.audits import audit_create

    batch = batch_of(w)
    return Audit.objects.filter(batch=batch).first() or audit_create(batch=batch, margin=0.3, min_per_class=3)


def suspect_run_of(w):
    """A computed label-error suspect run over batch 1 (issue 7) with one suspect to review."""
    from dashboards.analysis import suspects as suspect_svc
    from dashboards.models import Suspect, SuspectRun

    run = SuspectRun.objects.filter(project=w.project).first()
    if run is None:
        run, _ = suspect_svc.suspect_run_start(batch=batch_of(w))
        run = suspect_svc.suspect_run_compute(run_id=run.pk)
        item = batch_of(w).items.order_by("item_id").first().item
        Suspect.objects.create(run=run, item=item, rank=1, given_label="cat", suggested_label="dog",
                               self_confidence=0.2, suggested_confidence=0.8, margin=-0.6)
    return run


def hook_of(w):
    from tasks_app.models import Webhook

    return Webhook.objects.filter(organization=w.project.organization).first() or Webhook.objects.create(
        organization=w.project.organization, url="https://hooks.example.org/HOOK-A-URL", events=["delivery.ready"],
        secret="HOOK-A-SECRET")


def review_body(w, role):
    return {"sample": audit_of(w).samples.order_by("id").first().pk, "label": "dog"}


def web_reviewers(ok: E, *, other_org: E | None = None) -> dict:
    """Audit review pages: ops (staff, admin) and the project's customer; anyone else 403."""
    return roles(anonymous=E(302, redirect=LOGIN), annotators=E(403), customer_b=other_org or E(403),
                 customer_a=ok, staff=ok, admin=ok)


P5 = "api/projects/<int:project_pk>/"
D5 = P5 + "deliveries/<int:number>/"

def appeal_of_warned(w):
    """An open appeal by the warned annotator (made once, before the request's snapshot)."""
    from workforce import services as wf_services
    from workforce.models import Appeal

    m = w.memberships["warned"]
    return Appeal.objects.filter(membership=m).first() or wf_services.appeal_open(
        membership=m, text="APPEALTEXT I answered carefully, please look at my checks again."
    )


def payout_batch(w):
    import datetime as dt

    from workforce import services as wf_services

    end = dt.date.today() - dt.timedelta(days=1)
    return wf_services.payout_create(period_start=end - dt.timedelta(days=6), period_end=end, created_by=w.users["staff"])[0]


def payout_body(w, role):
    import datetime as dt

    end = dt.date.today() - dt.timedelta(days=1)
    return {"period_start": (end - dt.timedelta(days=6)).isoformat(), "period_end": end.isoformat()}


A = lambda w: w.project.pk  # noqa: E731
KNOWN_ID = '"external_id":"known-'  # a hidden item's external id in a JSON body
FORM = 'name="lease_id"'

TABLE: list[Row] = [
    # --- customer API (token) -------------------------------------------------------------
    Row("api/^projects/$", "GET", "api", lambda w: reverse("project-list"), api_customer(
        E(200, contains=("PROJECT-A-SECRET-NAME",)), other_org=E(200, contains=("PROJECT-B-NAME",), absent=("PROJECT-A",)))),
    Row("api/^projects/$", "POST", "api", lambda w: reverse("project-list"), api_customer(
        E(201, changes=True), other_org=E(201, absent=("PROJECT-A",), changes=True)), body=project_spec),
    Row("api/^projects\\.(?P<format>[a-z0-9]+)/?$", "GET", "api", lambda w: reverse("project-list", kwargs={"format": "json"}),
        api_customer(E(200, contains=("PROJECT-A-SECRET-NAME",)), other_org=E(200, absent=("PROJECT-A",)))),
    Row("api/^projects\\.(?P<format>[a-z0-9]+)/?$", "POST", "api", lambda w: reverse("project-list", kwargs={"format": "json"}),
        api_customer(E(201, changes=True), other_org=E(201, changes=True)), body=project_spec),
    Row("api/^projects/(?P<pk>[^/.]+)/$", "GET", "api", lambda w: reverse("project-detail", args=[A(w)]),
        api_customer(E(200, contains=("PROJECT-A-SECRET-NAME",)))),
    Row("api/^projects/(?P<pk>[^/.]+)/$", "DELETE", "api", lambda w: reverse("project-detail", args=[A(w)]),
        api_customer(E(405), other_org=E(405))),
    Row("api/^projects/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$", "GET", "api",
        lambda w: reverse("project-detail", kwargs={"pk": A(w), "format": "json"}),
        api_customer(E(200, contains=("PROJECT-A-SECRET-NAME",)))),
    Row("api/^projects/(?P<pk>[^/.]+)/launch/$", "POST", "api", lambda w: reverse("project-launch", args=[w.draft.pk]),
        api_customer(E(200, contains=('"status":"live"',), changes=True))),
    Row("api/^projects/(?P<pk>[^/.]+)/launch\\.(?P<format>[a-z0-9]+)/?$", "POST", "api",
        lambda w: reverse("project-launch", kwargs={"pk": w.draft.pk, "format": "json"}),
        api_customer(E(200, contains=('"status":"live"',), changes=True))),
    # The browsable root lists endpoint URLs only: any valid token may read it.
    Row("api/", "GET", "api", lambda w: reverse("api-root"), roles(anonymous=E(401), signed_in=E(200))),
    Row("api/<drf_format_suffix:format>", "GET", "api", lambda w: reverse("api-root", kwargs={"format": "json"}),
        roles(anonymous=E(401), signed_in=E(200))),
    Row("api/projects/<int:project_pk>/items/", "GET", "api", lambda w: reverse("project-items", args=[A(w)]),
        api_customer(E(200, contains=("ITEMMARKER-0",), absent=("KNOWNMARKER", KNOWN_ID, "is_known", "known_label")))),
    Row("api/projects/<int:project_pk>/items/", "POST", "api", lambda w: reverse("project-items", args=[A(w)]),
        api_customer(E(201, changes=True)), body=items_body),
    Row("api/projects/<int:project_pk>/progress/", "GET", "api", lambda w: reverse("project-progress", args=[A(w)]),
        api_customer(E(200, contains=('"items_total":6',)))),
    Row("api/projects/<int:project_pk>/delivery/", "GET", "api", lambda w: reverse("project-delivery", args=[A(w)]),
        api_customer(E(200, contains=('"summary"',), absent=("KNOWNMARKER", KNOWN_ID)))),
    Row("api/schema/", "GET", "api", lambda w: reverse("schema"), api_public()),
    Row("api/docs/", "GET", "api", lambda w: reverse("swagger-ui"), api_public()),
    Row("api/redoc/", "GET", "api", lambda w: reverse("redoc"), api_public()),
    # --- issue 5: pilot, spec, deliveries, exports, audits, sample size, webhooks (token) -------
    Row(P5 + "pilot/", "POST", "api", lambda w: f"/api/projects/{w.draft.pk}/pilot/",
        api_customer(E(200, contains=('"phase":"pilot"',), changes=True)), body=lambda w, role: {"size": 2}),
    Row(P5 + "pilot/approve/", "POST", "api", lambda w: f"/api/projects/{A(w)}/pilot/approve/",
        api_customer(E(400, contains=("phase",)))),
    Row(P5 + "spec/", "GET", "api", lambda w: f"/api/projects/{A(w)}/spec/", api_customer(E(200, contains=('"results"',)))),
    Row(P5 + "spec/", "POST", "api", lambda w: f"/api/projects/{A(w)}/spec/",
        api_customer(E(201, contains=('"version":2',), changes=True)),
        body=lambda w, role: {"instructions": "Revised.", "examples_added": [{"data": {"text": "x"}, "label": "cat", "role": "known"}]}),
    Row(P5 + "deliveries/", "GET", "api", lambda w: (batch_of(w), f"/api/projects/{A(w)}/deliveries/")[1],
        api_customer(E(200, contains=('"number":1',), absent=("KNOWNMARKER", KNOWN_ID)))),
    Row(P5 + "deliveries/", "POST", "api", lambda w: (batch_of(w), f"/api/projects/{A(w)}/deliveries/")[1],
        api_customer(E(400, contains=("No item was decided",)))),
    Row(D5, "GET", "api", lambda w: (batch_of(w), f"/api/projects/{A(w)}/deliveries/1/")[1],
        api_customer(E(200, contains=('"certificate"',), absent=("KNOWNMARKER", KNOWN_ID)))),
    Row(D5 + "items/", "GET", "api", lambda w: (batch_of(w), f"/api/projects/{A(w)}/deliveries/1/items/")[1],
        api_customer(E(200, contains=('"external_id":"item-',), absent=("KNOWNMARKER", KNOWN_ID)))),
    Row(D5 + "export/", "GET", "api", lambda w: (batch_of(w), f"/api/projects/{A(w)}/deliveries/1/export/?fmt=csv")[1],
        api_customer(E(200))),
    Row(D5 + "audit/", "GET", "api", lambda w: (audit_of(w), f"/api/projects/{A(w)}/deliveries/1/audit/")[1],
        api_customer(E(200, contains=('"plan"',), absent=("secretzed",)))),
    Row(D5 + "audit/", "POST", "api", lambda w: (audit_of(w), f"/api/projects/{A(w)}/deliveries/1/audit/")[1],
        api_customer(E(400, contains=("already has an audit",))), body=lambda w, role: {"margin": 0.2}),
    Row("api/sample-size/", "GET", "api", lambda w: "/api/sample-size/?margin=0.05&expected_accuracy=0.9",
        roles(anonymous=E(401), not_customers=E(403), customer_a=E(200, contains=('"n":',)), customer_b=E(200))),
    Row("api/webhooks/", "GET", "api", lambda w: (hook_of(w), "/api/webhooks/")[1],
        roles(anonymous=E(401), not_customers=E(403), customer_a=E(200, contains=("HOOK-A-URL",), absent=("HOOK-A-SECRET",)),
              customer_b=E(200, absent=("HOOK-A",)))),
    Row("api/webhooks/", "POST", "api", lambda w: "/api/webhooks/",
        roles(anonymous=E(401), not_customers=E(403), customer_a=E(201, contains=('"secret"',), changes=True),
              customer_b=E(201, changes=True)),
        body=lambda w, role: {"url": "https://hooks.example.org/new", "events": ["project.complete"]}),
    Row("api/webhooks/<int:pk>/", "GET", "api", lambda w: f"/api/webhooks/{hook_of(w).pk}/",
        api_customer(E(200, contains=("HOOK-A-URL",), absent=("HOOK-A-SECRET",)), other_org=E(404, absent=("HOOK-A",)))),
    Row("api/webhooks/<int:pk>/", "DELETE", "api", lambda w: f"/api/webhooks/{hook_of(w).pk}/",
        api_customer(E(204, changes=True), other_org=E(404))),
    Row(P5 + "conversations/", "GET", "api", lambda w: f"/api/projects/{A(w)}/conversations/",
        api_customer(E(200, contains=('"results":[]',)))),
    Row("api/webhooks/<int:pk>/deliveries/", "GET", "api", lambda w: f"/api/webhooks/{hook_of(w).pk}/deliveries/",
        api_customer(E(200, contains=('"results"',)), other_org=E(404))),
    # --- audit review pages (session): ops and the project's customer --------------------------
    Row("review/audits/", "GET", "web", lambda w: (audit_of(w), "/review/audits/")[1],
        web_reviewers(E(200, contains=("PROJECT-A-SECRET-NAME",)), other_org=E(200, absent=("PROJECT-A",)))),
    Row("review/audits/<int:audit_pk>/", "GET", "web", lambda w: f"/review/audits/{audit_of(w).pk}/",
        web_reviewers(E(200, contains=("ITEMMARKER-",), absent=("KNOWNMARKER", "Delivered")))),
    Row("review/audits/<int:audit_pk>/", "POST", "web", lambda w: f"/review/audits/{audit_of(w).pk}/",
        web_reviewers(E(302, redirect="/review/audits/", changes=True)), body=review_body),
    Row("review/audits/<int:audit_pk>/complete/", "POST", "web", lambda w: f"/review/audits/{audit_of(w).pk}/complete/",
        web_reviewers(E(302, redirect="/review/audits/"))),
    # --- ops pages (session, staff) ---------------------------------------------------------
    # /ops/ and /ops/projects/<id>/ lead to the dashboards (issue 7)
    Row("ops/", "GET", "web", lambda w: reverse("ops:index"),
        roles(**{**web_ops(), "staff": E(302, redirect="/ops/overview/"), "admin": E(302, redirect="/ops/overview/")})),
    Row("ops/projects/<int:project_pk>/", "GET", "web", lambda w: reverse("ops:project", args=[A(w)]),
        roles(**{**web_ops(), "staff": E(302, redirect="/ops/projects/"), "admin": E(302, redirect="/ops/projects/")})),
    # --- issue 7: ops dashboards (session, staff) and the Prometheus endpoint -----------------
    Row("ops/overview/", "GET", "web", lambda w: reverse("dashboards:overview"),
        roles(**{**web_ops(), "staff": E(200, contains=("PROJECT-A-SECRET-NAME",))})),
    Row("ops/projects/<int:project_pk>/dashboard/", "GET", "web", lambda w: reverse("dashboards:project", args=[A(w)]),
        roles(**{**web_ops(), "staff": E(200, contains=("PROJECT-A-SECRET-NAME", "Known-answer health"))})),
    Row("ops/projects/<int:project_pk>/charts/<slug:chart>.json", "GET", "web",
        lambda w: reverse("dashboards:chart_json", args=[A(w), "answers-per-hour"]),
        roles(**{**web_ops(), "staff": E(200, contains=('"rows"',))})),
    Row("ops/projects/<int:project_pk>/charts/<slug:chart>.csv", "GET", "web",
        lambda w: reverse("dashboards:chart_csv", args=[A(w), "accuracy-over-time"]),
        roles(**{**web_ops(), "staff": E(200, contains=("Sample size",))})),
    Row("ops/metrics", "GET", "web", lambda w: reverse("dashboards:metrics"),
        roles(anonymous=E(401), annotators=E(403), customer_a=E(403), customer_b=E(403),
              staff=E(200, contains=("cadre_answers_scored_total",)), admin=E(200))),
    Row("ops/projects/<int:project_pk>/expert/", "GET", "web", lambda w: reverse("ops:expert_queue", args=[A(w)]),
        web_ops()),
    # a POST naming no item of the project: staff get the form error (400), nothing is written
    Row("ops/projects/<int:project_pk>/expert/", "POST", "web", lambda w: reverse("ops:expert_queue", args=[A(w)]),
        roles(**{**web_ops(), "staff": E(400, contains=("not an item of this project",)),
                 "admin": E(400, contains=("not an item of this project",))}),
        body=lambda w, role: {"item": "0", "label": "cat"}),
    Row("ops/projects/<int:project_pk>/known-flags/", "GET", "web", lambda w: reverse("ops:known_flags", args=[A(w)]),
        web_ops()),
    Row("ops/projects/<int:project_pk>/known-flags/", "POST", "web", lambda w: reverse("ops:known_flags", args=[A(w)]),
        roles(**{**web_ops(), "staff": E(400, contains=("not a flag of this project",)),
                 "admin": E(400, contains=("not a flag of this project",))}),
        body=lambda w, role: {"flag": "0", "action": "keep"}),
    # --- issue 7: demographic analysis and label-error suspects (staff) ---------------------------
    Row("ops/projects/<int:project_pk>/demographics/", "GET", "web",
        lambda w: reverse("dashboards:demographics", args=[A(w)]), web_ops()),
    Row("ops/projects/<int:project_pk>/demographics.csv", "GET", "web",
        lambda w: reverse("dashboards:demographics_csv", args=[A(w)]), web_ops()),
    Row("ops/projects/<int:project_pk>/suspects/", "GET", "web", lambda w: reverse("dashboards:suspects", args=[A(w)]),
        web_ops()),
    Row("ops/projects/<int:project_pk>/suspects/", "POST", "web", lambda w: reverse("dashboards:suspects", args=[A(w)]),
        ops_post(), body=lambda w, role: {"batch": batch_of(w).pk}),
    Row("ops/projects/<int:project_pk>/suspects/runs/<int:run_pk>/", "GET", "web",
        lambda w: reverse("dashboards:suspect_run", args=[A(w), suspect_run_of(w).pk]), web_ops()),
    Row("ops/projects/<int:project_pk>/suspects/runs/<int:run_pk>.csv", "GET", "web",
        lambda w: reverse("dashboards:suspect_run_csv", args=[A(w), suspect_run_of(w).pk]), web_ops()),
    Row("ops/suspects/<int:suspect_pk>/review/", "POST", "web",
        lambda w: reverse("dashboards:suspect_review", args=[suspect_run_of(w).suspects.get().pk]), ops_post(),
        body=lambda w, role: {"outcome": "kept"}),
    # --- annotator web app (session) ------------------------------------------------------
    # Home lists live projects and creates nothing: any signed-in account may read it (ops land
    # here after logging in; the nav links them to /ops/).
    Row("", "GET", "web", lambda w: reverse("workforce:home"),
        roles(anonymous=E(302, redirect=LOGIN), signed_in=E(200))),
    Row("signup/", "GET", "web", lambda w: reverse("workforce:signup"),
        roles(anonymous=E(200, contains=("Become an annotator",)), signed_in=E(302, redirect="/"))),
    Row("signup/", "POST", "web", lambda w: reverse("workforce:signup"),
        roles(anonymous=E(302, redirect="/", changes=True), signed_in=E(302, redirect="/")),
        body=lambda w, role: {"username": f"new-{role}", "password": "a-long-pass-phrase-42",
                              "password_again": "a-long-pass-phrase-42"}),
    Row("login/", "GET", "web", lambda w: reverse("workforce:login"),
        roles(anonymous=E(200), signed_in=E(302, redirect="/"))),
    Row("logout/", "GET", "web", lambda w: reverse("workforce:logout"), roles(anonymous=E(405), signed_in=E(405))),
    Row("logout/", "POST", "web", lambda w: reverse("workforce:logout"),
        roles(anonymous=E(302, redirect="/login/"), signed_in=E(302, redirect="/login/"))),
    Row("projects/<int:project_id>/", "GET", "web", lambda w: reverse("workforce:project", args=[A(w)]),
        web_annotator(revoked=E(200, contains=("REVOKEREASON",)))),
    Row("projects/<int:project_id>/tutorial/", "GET", "web", lambda w: reverse("workforce:tutorial", args=[A(w)]),
        web_annotator(annotators=E(200, contains=("TUTMARKER-1",), absent=("TUTEXPLAIN",)))),
    Row("projects/<int:project_id>/qualifier/", "GET", "web", lambda w: reverse("workforce:qualifier", args=[A(w)]),
        web_annotator(annotators=E(200, absent=('name="q-',)),
                      # opening the qualifier draws the sitting's questions (stored: reloading cannot re-roll)
                      unqualified=E(200, contains=('name="q-', "QUALMARKER-1"), absent=("QUALEXPLAIN",), changes=True))),
    Row("projects/<int:project_id>/qualifier/", "POST", "web", lambda w: reverse("workforce:qualifier", args=[A(w)]),
        web_annotator(annotators=E(200, contains=("You have already qualified.",)),
                      unqualified=E(302, redirect=f"/projects/", changes=True)), body=qualifier_body),
    Row("projects/<int:project_id>/qualifier/attempts/<int:number>/", "GET", "web",
        lambda w: reverse("workforce:qualifier_result", args=[A(w), 1]),
        web_annotator(annotators=E(200, contains=("QUALEXPLAIN-1",)), unqualified=E(404, absent=("QUALEXPLAIN",)))),
    Row("projects/<int:project_id>/task/", "GET", "web", lambda w: reverse("workforce:task", args=[A(w)]),
        web_annotator(
            annotator=E(200, contains=(FORM,)),
            warned=E(200, contains=(FORM, "WARNREASON")),
            unqualified=E(200, contains=("Pass the qualifier first",), absent=(FORM,)),
            revoked=E(200, contains=("Your access to this project was removed", "REVOKEREASON"), absent=(FORM,)),
            paused=E(200, contains=("tutorial",), absent=(FORM,)),
        )),
    Row("projects/<int:project_id>/task/", "POST", "web", lambda w: reverse("workforce:task", args=[A(w)]),
        web_annotator(annotators=E(302, redirect="/projects/"),
                      annotator=E(302, redirect="/projects/", changes=True),
                      warned=E(302, redirect="/projects/", changes=True)), body=task_body),
    # issue 9 (i9json): the page script's loop: the same answer, the next task as JSON
    Row("projects/<int:project_id>/task/next.json", "POST", "web", lambda w: reverse("workforce:task_json", args=[A(w)]),
        roles(anonymous=E(401, contains=('"reload"',)), not_annotators=E(403),
              annotators=E(403, contains=('"membership"',)),
              annotator=E(200, contains=('"state": "task"', '"counted": true'), absent=('"item_id"', '"is_known"', '"repeat'),
                          changes=True),
              warned=E(200, contains=('"state": "task"', "WARNREASON"), changes=True)), body=task_body),
    # --- issue 6: the workbench (skip, progress line, instructions) and conversations ---------
    Row("projects/<int:project_id>/task/skip/", "POST", "web", lambda w: reverse("workforce:task_skip", args=[A(w)]),
        web_annotator(annotators=E(302, redirect="/projects/"),
                      annotator=E(302, redirect="/projects/", changes=True),
                      warned=E(302, redirect="/projects/", changes=True)),
        body=lambda w, role: {"lease_id": w.lease_for(role).pk, "reason": "broken"}),
    Row("projects/<int:project_id>/task/progress/", "GET", "web", lambda w: reverse("workforce:task_progress", args=[A(w)]),
        web_annotator(annotators=E(200, contains=('"answers_today"', '"earnings_today"')))),
    Row("projects/<int:project_id>/instructions/", "GET", "web",
        lambda w: reverse("workforce:task_instructions", args=[A(w)]),
        web_annotator(annotators=E(200, contains=("TUTMARKER-1",), absent=("QUALMARKER", "QUALEXPLAIN", "KNOWNMARKER")))),
    # the world's project is single choice: its conversation pages do not exist for anyone
    Row("projects/<int:project_id>/conversation/", "GET", "web", lambda w: reverse("workforce:conversation", args=[A(w)]),
        web_annotator(annotators=E(404))),
    Row("projects/<int:project_id>/conversation/<int:conversation_id>/state/", "GET", "web",
        lambda w: reverse("workforce:conversation_state", args=[A(w), 1]), web_annotator(annotators=E(404))),
    Row("projects/<int:project_id>/conversation/<int:conversation_id>/turns/", "POST", "web",
        lambda w: reverse("workforce:conversation_turn", args=[A(w), 1]), web_annotator(annotators=E(404)),
        body=lambda w, role: {"text": "hello"}),
    Row("projects/<int:project_id>/conversation/<int:conversation_id>/end/", "POST", "web",
        lambda w: reverse("workforce:conversation_end", args=[A(w), 1]), web_annotator(annotators=E(404))),
    Row("projects/<int:project_id>/conversation/<int:conversation_id>/leave/", "POST", "web",
        lambda w: reverse("workforce:conversation_leave", args=[A(w), 1]), web_annotator(annotators=E(404))),
    Row("ops/skips/", "GET", "web", lambda w: reverse("workforce:ops_skips"), web_ops()),
    # --- issue 3a: vetting, profile, surveys, invitations (annotators) ------------------------
    Row("account/", "GET", "web", lambda w: reverse("workforce:account"), web_annotator(annotators=E(200, contains=("Active",)))),
    Row("account/", "POST", "web", lambda w: reverse("workforce:account"),  # already active: nothing to do
        web_annotator(annotators=E(302, redirect="/")), body=lambda w, role: {"action": "activate"}),
    # The emailed link works without a session (it is signed and expires); already verified: no change.
    Row("verify-email/<str:token>/", "GET", "web", lambda w: reverse("workforce:verify_email", args=[verify_token(w)]),
        roles(anonymous=E(200, contains=("Email verified",)), signed_in=E(200, contains=("Email verified",)))),
    Row("profile/", "GET", "web", lambda w: reverse("workforce:profile"), web_annotator()),
    Row("profile/", "POST", "web", lambda w: reverse("workforce:profile"),
        web_annotator(annotators=E(302, redirect="/account/", changes=True)),
        body=lambda w, role: {"age": "30", "country": "de", "languages": "en, de"}),
    Row("surveys/", "GET", "web", lambda w: reverse("workforce:surveys"), web_annotator(annotators=E(200, contains=("SURVEY-TITLE",)))),
    Row("surveys/<int:survey_id>/", "GET", "web", lambda w: reverse("workforce:survey", args=[w.survey.pk]),
        web_annotator(annotators=E(200, contains=("How old are you?",)))),
    Row("surveys/<int:survey_id>/", "POST", "web", lambda w: reverse("workforce:survey", args=[w.survey.pk]),
        web_annotator(annotators=E(302, redirect="/surveys/", changes=True)),
        body=lambda w, role: {f"q-{w.survey_question.pk}": "31"}),
    Row("invitations/", "GET", "web", lambda w: reverse("workforce:invitations"),
        web_annotator(annotator=E(200, contains=("PROJECT-A-SECRET-NAME",)), unqualified=E(200, absent=("PROJECT-A",)),
                      warned=E(200, absent=("PROJECT-A",)), revoked=E(200, absent=("PROJECT-A",)))),
    Row("invitations/<int:invitation_id>/", "POST", "web", lambda w: reverse("workforce:invitation_respond", args=[w.invitation.pk]),
        web_annotator(annotators=E(404), annotator=E(302, redirect="/invitations/", changes=True)),
        body=lambda w, role: {"accept": "1"}),
    # --- issue 3a: ops pages for people and surveys (staff) ------------------------------------
    Row("ops/people/", "GET", "web", lambda w: reverse("workforce:ops_people"), web_ops()),
    Row("ops/people/<int:user_id>/", "GET", "web", lambda w: reverse("workforce:ops_person", args=[w.other.pk]), web_ops()),
    Row("ops/people/<int:user_id>/", "POST", "web", lambda w: reverse("workforce:ops_person", args=[w.other.pk]),
        ops_post(), body=lambda w, role: {"action": "suspend", "note": "SUSPENDREASON"}),
    Row("ops/flags/", "GET", "web", lambda w: reverse("workforce:ops_flags"), web_ops()),
    Row("ops/flags/", "POST", "web", lambda w: reverse("workforce:ops_flags"), ops_post(),
        body=lambda w, role: {"flag": w.flag.pk, "resolution": "asked them"}),
    Row("ops/surveys/", "GET", "web", lambda w: reverse("workforce:ops_surveys"), web_ops()),
    Row("ops/surveys/", "POST", "web", lambda w: reverse("workforce:ops_surveys"), ops_post(),
        body=lambda w, role: {"title": f"by {role}", "reward": "2.00"}),
    Row("ops/surveys/<int:survey_id>/", "GET", "web", lambda w: reverse("workforce:ops_survey", args=[w.survey.pk]), web_ops()),
    Row("ops/surveys/<int:survey_id>/", "POST", "web", lambda w: reverse("workforce:ops_survey", args=[w.survey.pk]), ops_post(),
        body=lambda w, role: {"action": "question", "text": "Gender?", "kind": "single", "attribute": "gender"}),
    Row("ops/projects/<int:project_pk>/invitations/", "GET", "web", lambda w: reverse("workforce:ops_invitations", args=[A(w)]),
        web_ops()),
    Row("ops/projects/<int:project_pk>/invitations/", "POST", "web", lambda w: reverse("workforce:ops_invitations", args=[A(w)]),
        ops_post(), body=lambda w, role: {"size": "3"}),
    # --- issue 3a: customer API, audience ---------------------------------------------------------
    Row("api/projects/<int:project_pk>/audience/", "GET", "api", lambda w: reverse("project-audience", args=[A(w)]),
        api_customer(E(200, contains=('"rules"',)))),
    Row("api/projects/<int:project_pk>/audience/", "PUT", "api", lambda w: reverse("project-audience", args=[A(w)]),
        api_customer(E(200, contains=('"gender":["woman"]',), changes=True)),
        body=lambda w, role: {"rules": {"gender": ["woman"]}}),
    Row("api/projects/<int:project_pk>/audience/estimate/", "GET", "api",
        lambda w: reverse("project-audience-estimate", args=[A(w)]),
        api_customer(E(200, contains=('"eligible"',), absent=("secretzed", "sec-annotator")))),
    # --- pay and appeals (issue 3B) --------------------------------------------------------
    Row("earnings/", "GET", "web", lambda w: reverse("workforce:earnings"),
        web_annotator(annotators=E(200, contains=("Your earnings",)))),
    Row("projects/<int:project_id>/appeal/", "GET", "web", lambda w: reverse("workforce:appeal", args=[A(w)]),
        web_annotator(annotators=E(200, contains=("nothing to appeal",), absent=('name="text"',)),
                      warned=E(200, contains=("WARNREASON", 'name="text"')),
                      revoked=E(200, contains=("REVOKEREASON", 'name="text"')),
                      paused=E(200, contains=("PAUSEREASON", 'name="text"')))),
    Row("projects/<int:project_id>/appeal/", "POST", "web", lambda w: reverse("workforce:appeal", args=[A(w)]),
        web_annotator(annotators=E(200, contains=("nothing to appeal",)),
                      warned=E(302, redirect="/projects/", changes=True),
                      revoked=E(302, redirect="/projects/", changes=True),
                      paused=E(302, redirect="/projects/", changes=True)),
        body=lambda w, role: {"text": "Please look again: I followed the instructions on every item."}),
    Row("ops/pay/", "GET", "web", lambda w: reverse("workforce:ops_pay"), web_ops()),
    Row("ops/pay/projects/<int:project_id>/rate/", "GET", "web", lambda w: reverse("workforce:ops_pay_rate", args=[A(w)]),
        roles(anonymous=E(302, redirect=LOGIN), annotators=E(403), customer_a=E(403), customer_b=E(403),
              staff=E(405), admin=E(405))),
    Row("ops/pay/projects/<int:project_id>/rate/", "POST", "web", lambda w: reverse("workforce:ops_pay_rate", args=[A(w)]),
        roles(anonymous=E(302, redirect=LOGIN), annotators=E(403), customer_a=E(403), customer_b=E(403),
              staff=E(302, redirect="/ops/pay/", changes=True), admin=E(302, redirect="/ops/pay/", changes=True)),
        body=lambda w, role: {"per_answer": "0.25", "currency": "USD"}),
    Row("ops/payouts/", "GET", "web", lambda w: reverse("workforce:ops_payouts"), web_ops()),
    Row("ops/payouts/", "POST", "web", lambda w: reverse("workforce:ops_payouts"),
        roles(anonymous=E(302, redirect=LOGIN), annotators=E(403), customer_a=E(403), customer_b=E(403),
              staff=E(302, redirect="/ops/payouts/", changes=True), admin=E(302, redirect="/ops/payouts/", changes=True)),
        body=payout_body),
    Row("ops/payouts/<int:batch_id>.csv", "GET", "web", lambda w: reverse("workforce:ops_payout_csv", args=[payout_batch(w).pk]),
        web_ops()),
    Row("ops/appeals/", "GET", "web", lambda w: (appeal_of_warned(w), reverse("workforce:ops_appeals"))[1],
        roles(anonymous=E(302, redirect=LOGIN), annotators=E(403, absent=("APPEALTEXT",)), customer_a=E(403), customer_b=E(403),
              staff=E(200, contains=("WARNREASON",)), admin=E(200, contains=("WARNREASON",)))),
    Row("ops/appeals/<int:appeal_id>/", "GET", "web", lambda w: reverse("workforce:ops_appeal", args=[appeal_of_warned(w).pk]),
        roles(anonymous=E(302, redirect=LOGIN), annotators=E(403, absent=("APPEALTEXT",)), customer_a=E(403), customer_b=E(403),
              staff=E(200, contains=("APPEALTEXT", "WARNREASON")), admin=E(200, contains=("APPEALTEXT",)))),
    Row("ops/appeals/<int:appeal_id>/", "POST", "web", lambda w: reverse("workforce:ops_appeal", args=[appeal_of_warned(w).pk]),
        roles(anonymous=E(302, redirect=LOGIN), annotators=E(403), customer_a=E(403), customer_b=E(403),
              staff=E(302, redirect="/ops/appeals/", changes=True), admin=E(302, redirect="/ops/appeals/", changes=True)),
        body=lambda w, role: {"decision": "reinstate", "note": "Checks were ambiguous; reinstated."}),
    # --- Django admin: two representative rows (its other URLs are Django's own) ------------
    Row("admin/", "GET", "web", lambda w: reverse("admin:index"),
        roles(anonymous=E(302, redirect=ADMIN_LOGIN), annotators=E(302, redirect=ADMIN_LOGIN),
              customer_a=E(302, redirect=ADMIN_LOGIN), customer_b=E(302, redirect=ADMIN_LOGIN),
              staff=E(200, contains=("permission",)), admin=E(200, contains=("Projects",)))),
    Row("admin/tasks_app/project/", "GET", "web", lambda w: reverse("admin:tasks_app_project_changelist"),
        roles(anonymous=E(302, redirect=ADMIN_LOGIN), annotators=E(302, redirect=ADMIN_LOGIN),
              customer_a=E(302, redirect=ADMIN_LOGIN), customer_b=E(302, redirect=ADMIN_LOGIN),
              staff=E(403), admin=E(200, contains=("PROJECT-A-SECRET-NAME",)))),
]
ADMIN_ROWS = {"admin/", "admin/tasks_app/project/"}


def resolver_routes() -> dict[str, set[str]]:
    """Every URL pattern as its full route → its names (``admin`` namespace marked)."""
    out: dict[str, set[str]] = {}

    def walk(resolver, prefix: str, namespace: str | None):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                ns = ":".join(filter(None, [namespace, p.namespace])) or None
                walk(p, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace else str(p.name)
                out.setdefault(prefix + str(p.pattern), set()).add(name)

    walk(get_resolver(), "", None)
    return out


def test_every_url_pattern_is_in_the_table():
    routes = resolver_routes()
    ours = {r for r, names in routes.items() if not any(n.split(":")[0] == "admin" for n in names)}
    in_table = {row.route for row in TABLE}
    missing = sorted(ours - in_table)
    assert not missing, f"URL patterns nobody decided access for (add rows to TABLE): {missing}"
    stale = sorted(in_table - set(routes))
    assert not stale, f"TABLE rows for routes that no longer exist: {stale}"
    assert ADMIN_ROWS <= set(routes)
    assert len(TABLE) >= len(ours)


def test_every_row_has_every_role():
    for row in TABLE:
        assert set(row.expect) == set(ROLES), (row.route, row.method, set(ROLES) ^ set(row.expect))


# Known bugs, kept in the table with the right expectation, as strict xfail marks keyed by
# (route, method, role): fixing a bug turns its cells red until the mark is removed.
KNOWN_BUGS: dict = {}
CASES = [
    pytest.param(row, role, id=f"{row.method} /{row.route} {role}",
                 marks=[KNOWN_BUGS[(row.route, row.method, role)]] if (row.route, row.method, role) in KNOWN_BUGS else [])
    for row in TABLE for role in ROLES
]


def test_known_bug_marks_point_at_table_cells():
    cells = {(row.route, row.method, role) for row in TABLE for role in ROLES}
    assert set(KNOWN_BUGS) <= cells


@pytest.mark.parametrize("row, role", CASES)
def test_role_matrix(world, sec, row: Row, role: str):
    exp: E = row.expect[role]
    url = row.url(world)
    data = row.body(world, role) if row.body else None
    before = sec.snapshot()
    if row.kind == "api":
        client = world.api(role)
        resp = getattr(client, row.method.lower())(url, data, format="json") if data is not None else \
            getattr(client, row.method.lower())(url)
    else:
        client = world.web(role)
        resp = getattr(client, row.method.lower())(url, data) if data is not None else getattr(client, row.method.lower())(url)
    after = sec.snapshot()
    body = resp.content.decode(errors="replace") if not getattr(resp, "streaming", False) else ""
    where = f"{row.method} {url} as {role}"
    assert resp.status_code == exp.status, f"{where}: {resp.status_code} != {exp.status}: {body[:300]}"
    if exp.redirect is not None:
        assert resp["Location"].startswith(exp.redirect), f"{where}: redirects to {resp['Location']}"
    for text in exp.contains:
        assert text in body, f"{where}: {text!r} missing"
    for text in exp.absent:
        assert text not in body, f"{where}: {text!r} present"
    if exp.changes:
        assert after != before, f"{where}: allowed request changed nothing"
    else:
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert not changed, f"{where}: refused/read-only request changed {changed}"


def test_api_ignores_web_sessions(world):
    """The API authenticates by token only: a customer's browser session gets 401 (so no
    cross-site request can ride on a session cookie)."""
    client = world.web("customer_a")
    for url in (reverse("project-list"), reverse("project-detail", args=[world.project.pk])):
        assert client.get(url).status_code == 401, url
    before = world.draft.status
    assert client.post(reverse("project-launch", args=[world.draft.pk])).status_code == 401
    world.draft.refresh_from_db()
    assert world.draft.status == before
