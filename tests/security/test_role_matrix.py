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
    # --- ops pages (session, staff) ---------------------------------------------------------
    Row("ops/", "GET", "web", lambda w: reverse("ops:index"), web_ops()),
    Row("ops/projects/<int:project_pk>/", "GET", "web", lambda w: reverse("ops:project", args=[A(w)]), web_ops()),
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
                      unqualified=E(200, contains=('name="q-', "QUALMARKER-1"), absent=("QUALEXPLAIN",)))),
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
