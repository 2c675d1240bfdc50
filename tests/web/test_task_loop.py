"""The annotator loop through the web page (issue 9): the submit answers with the next task (one
request per annotation), exact query budgets for both requests, the no-leak rule on that path,
and the behaviour signals the form carries."""
from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from cadre.sessions import _CappedCache
from tasks_app.models import Answer, Item, Lease
from tests.conftest import requires_postgres
from tests.web.conftest import form_of, set_rate, task_url
from workforce import services as wf_services

pytestmark = pytest.mark.django_db


def test_submit_answers_with_the_next_task(annotator_client, working, annotator):
    set_rate(working, 0.0)
    url = task_url(working.project_id)
    first = form_of(annotator_client.get(url).content.decode())
    assert first["then"] == "next"
    resp = annotator_client.post(url, {**first, "label": "positive", "visible_ms": "4200", "pastes": "1", "blurs": "2"})
    html = resp.content.decode()
    assert resp.status_code == 200 and "Answer saved. Here is the next one." in html
    second = form_of(html)
    assert second["lease_id"] != first["lease_id"]
    answer = Answer.objects.get(annotator=annotator)
    assert answer.signals == {"visible_ms": 4200, "pastes": 1, "blurs": 2}
    lease = Lease.objects.get(pk=second["lease_id"])
    assert lease.state == Lease.State.ACTIVE and lease.item_id != answer.item_id
    assert lease.item.data["text"] in html


def test_reposting_the_same_form_is_harmless(annotator_client, working, annotator):
    """A reload of the answer page without JavaScript re-posts the form: the answer is kept once and
    the page shows the task the annotator already holds."""
    url = task_url(working.project_id)
    form = {**form_of(annotator_client.get(url).content.decode()), "label": "negative"}
    served = form_of(annotator_client.post(url, form).content.decode())
    again = annotator_client.post(url, form)
    assert again.status_code == 200 and "That answer was already saved." in again.content.decode()
    assert form_of(again.content.decode())["lease_id"] == served["lease_id"]
    assert Answer.objects.filter(annotator=annotator).count() == 1


def test_a_form_without_then_still_redirects(annotator_client, working):
    """Clients that post only the original fields keep the redirect (post/redirect/get)."""
    url = task_url(working.project_id)
    form = form_of(annotator_client.get(url).content.decode())
    del form["then"]
    resp = annotator_client.post(url, {**form, "label": "positive"})
    assert resp.status_code == 302 and resp.url == url


@pytest.mark.parametrize("bad", [
    {"visible_ms": "-5", "pastes": "lots", "blurs": "1e9"},
    {"visible_ms": "9" * 5000, "pastes": "\x00", "blurs": "٣"},
    {"visible_ms": "99999999999999999999999", "pastes": "10001", "blurs": " 3"},
])
def test_bad_signals_are_dropped_never_an_error(annotator_client, working, annotator, bad):
    url = task_url(working.project_id)
    form = form_of(annotator_client.get(url).content.decode())
    resp = annotator_client.post(url, {**form, "label": "positive", **bad})
    assert resp.status_code == 200
    assert Answer.objects.get(annotator=annotator).signals == {}


def _normalised(html: str, item_text: str, username: str) -> str:
    """The page with what must differ between any two tasks taken out: the item text, the
    per-lease values, the expiry time and who is signed in."""
    html = html.replace(item_text, "ITEM").replace(username, "USER")
    for name in ("csrfmiddlewaretoken", "lease_id", "client_key", "started"):
        html = re.sub(rf'name="{name}" value="[^"]*"', f'name="{name}" value="X"', html)
    return re.sub(r"<time datetime=\"[^\"]*\">[^<]*</time>", "<time>T</time>", html)


def test_the_next_task_looks_the_same_whether_it_is_a_check_or_not(as_check_and_regular, make_project):
    """The no-leak rule on the submit path: the page that answers a submit is byte for byte the same
    for a hidden check and a regular item, once the item text and per-lease values are taken out."""
    project = make_project(items=6, known=4)

    def submit(client, form):
        html = client.post(task_url(project.pk), {**form, "label": "positive"}).content.decode()
        return html, form_of(html)["lease_id"]

    pages = {kind: _normalised(html, lease.item.data["text"], user.username)
             for kind, (html, lease, user) in as_check_and_regular(project, submit).items()}
    assert pages["check"] == pages["regular"]


@requires_postgres
def test_query_budgets_of_the_two_requests(annotator_client, working, django_assert_num_queries):
    """Sessions come from the cache (cadre/sessions.py), so a request's fixed cost is ONE query:
    the user, the membership with its project and audience, and the annotator's profile (the
    vetting status, issue 3; the page's navigation reuses it), joined (issue 9, second round:
    ``_session_membership``). Next task: + ONE statement (the annotator's live leases, the pick, the
    lease insert: issue 9, fifth round), also for a reload. Submit with the next task: + the
    one-statement submit (here in a savepoint, as the test runs in a transaction; in production it
    commits by itself), then that one next-task statement: three statements per annotation."""
    session = 0 if settings.SESSION_ENGINE == "cadre.sessions" else 1  # without Redis: the session row
    set_rate(working, 0.0)
    url = task_url(working.project_id)
    annotator_client.get(url)  # warm: the project's id range, the expiry throttle
    Lease.objects.filter(annotator=working.annotator).update(state=Lease.State.RELEASED)
    Item.objects.update(assigned=0)
    with django_assert_num_queries(session + 1 + 1):
        form = form_of(annotator_client.get(url).content.decode())
    with django_assert_num_queries(session + 1 + 1):  # a reload: the live lease again, from the same statement
        assert form_of(annotator_client.get(url).content.decode())["lease_id"] == form["lease_id"]
    with django_assert_num_queries(session + 1 + 3 + 1):
        resp = annotator_client.post(url, {**form, "label": "positive"})
    assert resp.status_code == 200 and form_of(resp.content.decode())["lease_id"] != form["lease_id"]


class _RecordingCache:
    def __init__(self):
        self.timeouts = []
        self.data = {}

    def set(self, key, value, timeout=None, **kwargs):
        self.timeouts.append(timeout)
        self.data[key] = value

    def get(self, key, default=None):
        return self.data.get(key, default)


def test_cached_sessions_live_in_the_cache_at_most_the_cap(settings):
    """cadre/sessions.py: a logout while Redis is away cannot delete the cached copy, so the copy
    must not outlive the cap (the session itself still lasts its two weeks, in the database)."""
    inner = _RecordingCache()
    capped = _CappedCache(inner, 300)
    capped.set("k", 1, 1_209_600)
    capped.set("k", 1, 60)
    capped.set("k", 1)
    assert inner.timeouts == [300, 60, 300]
    assert "k" in capped.data and capped.get("k") == 1  # everything else passes through


@requires_postgres
def test_a_logged_out_session_is_refused(client, annotator, working):
    """Logout deletes the session from the database and the cache: the old cookie is anonymous."""
    client.force_login(annotator)
    url = task_url(working.project_id)
    assert client.get(url).status_code == 200
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("workforce:logout"))
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    resp = client.get(url)
    assert resp.status_code == 302 and resp.url.startswith(settings.LOGIN_URL)


# --- the one-query session path (issue 9, second round: ``_session_membership``) ----------------

@requires_postgres
def test_a_password_changed_elsewhere_logs_the_old_session_out(annotator_client, annotator, working):
    """The joined user row must verify the session's auth hash as the auth middleware would: after
    a password change the old cookie is anonymous on the task page and on the skip form."""
    url = task_url(working.project_id)
    form = form_of(annotator_client.get(url).content.decode())
    annotator.set_password("another-long-password")
    annotator.save()
    resp = annotator_client.post(url, {**form, "label": "positive"})
    assert resp.status_code == 302 and resp.url.startswith(settings.LOGIN_URL)
    assert not Answer.objects.filter(annotator=annotator).exists()


@requires_postgres
def test_a_deactivated_account_is_anonymous_on_the_task_page(annotator_client, annotator, working):
    url = task_url(working.project_id)
    assert annotator_client.get(url).status_code == 200
    type(annotator).objects.filter(pk=annotator.pk).update(is_active=False)
    resp = annotator_client.get(url)
    assert resp.status_code == 302 and resp.url.startswith(settings.LOGIN_URL)


@requires_postgres
def test_a_suspension_counts_on_the_next_request(annotator_client, annotator, working, staff):
    """The profile now comes with the membership row; a suspension between two requests still
    stops the next task (the blocked page, no new lease)."""
    url = task_url(working.project_id)
    form = form_of(annotator_client.get(url).content.decode())
    wf_services.annotator_suspend(annotator=annotator, actor=staff, reason="Test: suspended.")
    annotator_client.post(url, {**form, "label": "positive"})
    resp = annotator_client.get(url)
    assert resp.status_code == 200 and 'name="lease_id"' not in resp.content.decode()
    assert Lease.objects.filter(annotator=annotator, state=Lease.State.ACTIVE).count() == 0


@requires_postgres
def test_another_projects_lease_is_refused_on_this_page(annotator_client, annotator, working, make_project, qualify):
    """The one-statement submit takes only a live lease of the page's project; a lease of another
    project posted here takes the full path, which stores it under the lease's own project, as
    before (the lease is the annotator's own), and never under this one."""
    other = qualify(make_project(), annotator)
    set_rate(working, 0.0)
    set_rate(other, 0.0)
    here = form_of(annotator_client.get(task_url(working.project_id)).content.decode())
    there = form_of(annotator_client.get(task_url(other.project_id)).content.decode())
    resp = annotator_client.post(task_url(working.project_id), {**here, "lease_id": there["lease_id"], "label": "positive"})
    assert resp.status_code == 200
    answer = Answer.objects.get(annotator=annotator)
    assert answer.project_id == other.project_id == Lease.objects.get(pk=there["lease_id"]).project_id


@requires_postgres
def test_an_expired_lease_is_refused_with_a_fresh_task(annotator_client, annotator, working):
    from datetime import timedelta

    from django.utils import timezone

    url = task_url(working.project_id)
    form = form_of(annotator_client.get(url).content.decode())
    Lease.objects.filter(pk=form["lease_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    resp = annotator_client.post(url, {**form, "label": "positive"})
    html = resp.content.decode()
    assert resp.status_code == 302 or "no longer yours" in html
    assert not Answer.objects.filter(annotator=annotator).exists()


@requires_postgres
@pytest.mark.parametrize("with_audience", [False, True])
def test_the_plain_sql_membership_row_matches_the_orm(working, annotator, with_audience):
    """``_membership_row`` builds the same five objects the ORM's select_related query would, with
    every concrete field equal (JSON fields parsed, dates aware) and the relations cached."""
    from workforce.models import Audience, Membership
    from workforce.views.task import _membership_row

    if with_audience:
        Audience.objects.create(project_id=working.project_id)
    orm = (Membership.objects.select_related("project", "project__audience", "annotator", "annotator__annotator")
           .get(project_id=working.project_id, annotator_id=annotator.pk))
    raw = _membership_row(working.project_id, annotator.pk)

    def same(a, b):
        assert type(a) is type(b)
        for f in type(a)._meta.concrete_fields:
            assert getattr(a, f.attname) == getattr(b, f.attname), f.name

    same(raw, orm)
    same(raw.project, orm.project)
    same(raw.annotator, orm.annotator)
    same(raw.annotator.annotator, orm.annotator.annotator)
    if with_audience:
        same(raw.project.audience, orm.project.audience)
    else:
        assert not hasattr(raw.project, "audience") and not hasattr(orm.project, "audience")
    assert _membership_row(working.project_id + 10_000, annotator.pk) is None


def test_the_started_token_is_refused_unless_issued_here_for_this_lease(settings):
    """The start time behind ``duration_ms`` (a bare HMAC since issue 9 ``i9web4``): another lease's
    token, a changed time, a changed MAC or another key give no duration; a rotated key still verifies
    through ``SECRET_KEY_FALLBACKS`` as ``django.core.signing`` would."""
    from workforce.views.task import _duration_ms, _started_token

    token = _started_token(41)
    assert _duration_ms(token, 41) is not None and 0 <= _duration_ms(token, 41) < 60_000
    lease, started, mac = token.split(".")
    assert _duration_ms(token, 42) is None
    assert _duration_ms(f"{lease}.{int(started) - 5000}.{mac}", 41) is None  # an earlier start = a longer duration
    assert _duration_ms(f"{lease}.{started}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}", 41) is None
    assert all(_duration_ms(bad, 41) is None for bad in ("", "41", "41..", "41.x.y", f"41.{started}", "٤١.1.2"))
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-key-" + "k" * 40
    assert _duration_ms(token, 41) is None
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert _duration_ms(token, 41) is not None


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_the_expiry_text_is_what_the_template_date_filter_writes(zone):
    """``_clock_text`` (the JSON's ``expires_at_text``) writes what ``dateformat`` "H:i:s T" wrote, in
    and out of daylight saving time."""
    from datetime import UTC, datetime

    from django.utils import dateformat, timezone

    from workforce.views.task import _clock_text

    with timezone.override(zone):
        for when in (datetime(2026, 1, 15, 3, 4, 5, tzinfo=UTC), datetime(2026, 7, 1, 23, 59, 59, tzinfo=UTC)):
            assert _clock_text(when) == dateformat.format(timezone.localtime(when), "H:i:s T")
