"""Known answers, other annotators' answers and personal data never reach the wrong person.

Secrets carry unique markers (see conftest.py) and every response body is grepped for them:

- the hidden known-answer items: that an item is a check (``is_known``, ``known_label``,
  its external id ``known-<id>``, its explanation ``KNOWNEXPLAIN-*``) reaches no annotator;
  the item's *text* is shown, by design, to the one annotator holding its lease, on a task
  page that is byte-for-byte the page of a regular item once the item text and per-request
  tokens are set aside;
- qualifier answers (``QUALEXPLAIN-*``, "correct", "explanation") appear only after grading,
  tutorial explanations only after answering that step;
- another annotator's user name, email and answers reach no annotator and no customer;
- the customer API never carries ``is_known`` / ``known_label`` and lists / delivers no
  known-answer item (the project detail does return the customer's own examples, known-role
  ones included: that is their own upload).
"""
from __future__ import annotations

import json
import re
import uuid

import pytest
from django.urls import reverse

from tasks_app.models import Answer, Example, Item, Lease
from workforce import services as wf_services
from workforce.models import Membership

pytestmark = pytest.mark.django_db

KNOWN_ID_RE = re.compile(r"known-\d+")
ALWAYS_SECRET = ("KNOWNEXPLAIN", "is_known", "known_label", "secretzed")
ANNOTATORS = ["annotator", "unqualified", "warned", "revoked"]


def body_of(resp) -> str:
    return resp.content.decode()


def messages_of(resp) -> list[str]:
    ctx = resp.context
    return [str(m) for m in ctx["messages"]] if ctx is not None and "messages" in ctx else []


def assert_no_secrets(body: str, where: str, *, known_text_ok: str | None = None, allow: tuple[str, ...] = ()):
    """Nothing that tells a check from a regular item, no other annotator, no qualifier or
    tutorial answers unless ``allow`` says so; a known item's text only if it is ``known_text_ok``."""
    for secret in ALWAYS_SECRET + ("QUALEXPLAIN", "TUTEXPLAIN"):
        if any(secret.startswith(a) or a.startswith(secret) for a in allow):
            continue
        assert secret not in body, f"{where}: {secret!r} leaked"
    assert not KNOWN_ID_RE.search(body), f"{where}: a known item's external id leaked"
    shown = set(re.findall(r"KNOWNMARKER-\d+", body))
    allowed = set(re.findall(r"KNOWNMARKER-\d+", known_text_ok or ""))
    assert shown <= allowed, f"{where}: known-item text {shown - allowed} shown without a lease on it"
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", body, re.S | re.I):
        assert "known" not in script.lower(), f"{where}: 'known' in a <script> block"
        for marker in ("KNOWNMARKER", "QUALEXPLAIN", "TUTEXPLAIN", "ITEMMARKER", "secretzed"):
            assert marker not in script, f"{where}: {marker} in a <script> block"
        for blob in re.findall(r"\{.*\}", script, re.S):  # embedded JSON, if any
            assert "label" not in blob or "known" not in blob, f"{where}: label data in script JSON"


def lease_text(lease: Lease | None) -> str | None:
    if lease is None:
        return None
    lease.refresh_from_db()
    return lease.item.data.get("text") if lease.state == Lease.State.ACTIVE else None


# --- annotator pages --------------------------------------------------------------------------

@pytest.mark.parametrize("role", ANNOTATORS)
def test_annotator_pages_show_no_secrets(world, sec, role):
    client = world.web(role)
    p = world.project.pk
    m = world.memberships[role]
    pages = [
        reverse("workforce:home"),
        reverse("workforce:project", args=[p]),
        reverse("workforce:qualifier", args=[p]),
        reverse("workforce:task", args=[p]),
        reverse("workforce:project", args=[world.project_b.pk]),
    ] + [f"{reverse('workforce:tutorial', args=[p])}?step={i}" for i in range(1, len(sec.TUTORIAL) + 1)]
    for path in pages:
        resp = client.get(path)
        assert resp.status_code == 200, path
        mine = Lease.objects.filter(annotator=world.users[role], project=world.project, state="active").first()
        assert_no_secrets(body_of(resp), f"{role} GET {path}", known_text_ok=lease_text(mine))
    # Their own graded qualifier: the review with explanations is theirs to see.
    resp = client.get(reverse("workforce:qualifier_result", args=[p, 1]))
    if m.qualifier_attempts:
        assert resp.status_code == 200
        assert_no_secrets(body_of(resp), f"{role} own result", allow=("QUALEXPLAIN",))
        assert "QUALEXPLAIN-1" in body_of(resp)
    else:
        assert resp.status_code == 404
        assert_no_secrets(body_of(resp), f"{role} result 404")


def test_blocked_and_empty_pages_show_no_item(world):
    for role, heading in (("revoked", "Your access to this project was removed"), ("unqualified", "Pass the qualifier first")):
        body = body_of(world.web(role).get(reverse("workforce:task", args=[world.project.pk])))
        assert heading in body
        assert 'name="lease_id"' not in body
        assert_no_secrets(body, f"{role} blocked page")
        assert "ITEMMARKER" not in body and "KNOWNMARKER" not in body


def test_someone_elses_qualifier_result_is_404(world):
    """secretzed has attempt 1; an annotator without attempts gets the same 404 as for an
    attempt that does not exist, with nothing of secretzed's review."""
    client = world.web("unqualified")
    p = world.project.pk
    theirs = client.get(reverse("workforce:qualifier_result", args=[p, 1]))
    nobodys = client.get(reverse("workforce:qualifier_result", args=[p, 99]))
    assert theirs.status_code == nobodys.status_code == 404
    assert body_of(theirs) == body_of(nobodys)
    assert_no_secrets(body_of(theirs), "someone else's result")


def test_tutorial_reveals_only_the_answered_step(world, sec):
    client = world.web("unqualified")
    url = f"{reverse('workforce:tutorial', args=[world.project.pk])}?step=1"
    before = body_of(client.get(url))
    assert "TUTMARKER-1" in before and "TUTEXPLAIN" not in before
    after = body_of(client.post(url, {"label": "dog"}))  # wrong on purpose: shows the right one
    assert "TUTEXPLAIN-1" in after and "TUTEXPLAIN-2" not in after
    assert "the correct answer is <strong>cat</strong>" in after
    assert_no_secrets(after, "tutorial after answering", allow=("TUTEXPLAIN",))


def test_qualifier_shows_no_answers_before_it_is_graded(world, sec):
    client = world.web("unqualified")
    url = reverse("workforce:qualifier", args=[world.project.pk])
    body = body_of(client.get(url))
    for i in range(1, len(sec.QUALIFIER) + 1):
        assert f"QUALMARKER-{i}" in body
    assert "QUALEXPLAIN" not in body
    for word in ("correct", "explanation"):
        assert word not in body.lower(), word
    assert_no_secrets(body, "qualifier before submit")

    # Incomplete and invalid sheets: the errors name question numbers and the caller's own input only.
    questions = list(Example.objects.filter(project=world.project, role="qualifier").order_by("position", "id"))
    resp = client.post(url, {f"q-{questions[0].pk}": "bird"})
    assert resp.status_code == 200
    msgs = " ".join(messages_of(resp))
    assert "'bird' is not one of this project's labels." in msgs and "Question 2 has no answer." in msgs
    for word in ("correct", "explanation", "QUALEXPLAIN", "cat", "dog"):
        assert word not in msgs, word
    assert_no_secrets(body_of(resp), "qualifier with errors")
    assert "correct" not in body_of(resp).lower()


def _normalise(body: str, username: str, item_text: str) -> str:
    body = body.replace(item_text, "<ITEM>").replace(username, "<USER>")
    for pattern in (
        r'name="lease_id" value="\d+"',
        r'name="client_key" value="[^"]*"',
        r'name="started" value="[^"]*"',
        r'name="csrfmiddlewaretoken" value="[^"]*"',
        r"<time datetime=\"[^\"]*\">[^<]*</time>",
        r'data-seconds="\d+">\d+ s',  # the lease countdown: a second may pass between the two pages
    ):
        body = re.sub(pattern, "<X>", body)
    return body


def test_task_page_of_a_known_item_is_the_page_of_a_regular_item(world, sec):
    known_lease = world.leases["annotator"]
    assert known_lease.item.is_known
    regular_user = sec.signup("sec-regular")
    regular_m = sec.qualify(world.project, regular_user)
    regular_lease = sec.lease_of(regular_m, known_check_rate=0.0)
    assert not regular_lease.item.is_known

    url = reverse("workforce:task", args=[world.project.pk])
    known_resp = world.web("annotator").get(url)
    client = world.web("anonymous")
    client.force_login(regular_user)
    regular_resp = client.get(url)
    known_body, regular_body = body_of(known_resp), body_of(regular_resp)
    known_text = known_lease.item.data["text"]
    assert known_text in known_body  # the annotator does see what to label
    assert_no_secrets(known_body, "task page, known item", known_text_ok=known_text)
    # the item's id as a whole number (not a digit inside the countdown's "600")
    visible = re.sub(r'value="[^"]*"|datetime="[^"]*"|data-seconds="\d+">\d+ s', "", known_body).replace(
        f"/projects/{world.project.pk}/", "")
    assert not re.search(rf"(?<![\w.-]){known_lease.item.pk}(?![\w.-])", visible)
    assert _normalise(known_body, "sec-annotator", known_text) == _normalise(regular_body, "sec-regular",
                                                                              regular_lease.item.data["text"])
    assert set(known_resp.headers) == set(regular_resp.headers)


def _submit(client, project, lease_id, label="cat"):
    return client.post(
        reverse("workforce:task", args=[project.pk]),
        {"lease_id": lease_id, "label": label, "client_key": uuid.uuid4().hex, "started": "x"},
        follow=True,
    )


def test_task_errors_reveal_nothing_about_checks(world, sec):
    client = world.web("annotator")
    known = world.leases["annotator"]
    known_ids = {str(pk) for pk in Item.objects.filter(project=world.project, is_known=True).values_list("pk", flat=True)}
    known_ids |= {str(pk) for pk in Example.objects.filter(project=world.project).values_list("pk", flat=True)}
    answers_before = Answer.objects.count()
    cases = {
        "bad lease id": _submit(client, world.project, 987654),
        "other annotator's lease (a check)": _submit(client, world.project, world.other_lease.pk),
        "bad label on own check": _submit(client, world.project, known.pk, label="bird"),
    }
    assert Answer.objects.count() == answers_before
    for name, resp in cases.items():
        msgs = messages_of(resp)
        assert msgs, name
        text = " ".join(msgs)
        assert "known" not in text.lower() and "check" not in text.lower(), (name, text)
        assert not set(re.findall(r"\d+", text)) & known_ids, (name, text)
        assert "cat" not in text and "dog" not in text, (name, text)  # no label hinted at
        mine = Lease.objects.filter(annotator=world.users["annotator"], state="active").first()
        assert_no_secrets(body_of(resp), name, known_text_ok=lease_text(mine))
    assert " ".join(messages_of(cases["bad lease id"])) == " ".join(messages_of(cases["other annotator's lease (a check)"]))


def test_submitting_a_check_answers_like_a_regular_item(world, sec):
    regular_user = sec.signup("sec-regular")
    regular_lease = sec.lease_of(sec.qualify(world.project, regular_user), known_check_rate=0.0)
    known_lease = world.leases["annotator"]
    wrong = "dog" if known_lease.item.known_label == "cat" else "cat"  # a wrong answer to the check
    known_resp = _submit(world.web("annotator"), world.project, known_lease.pk, label=wrong)
    client = world.web("anonymous")
    client.force_login(regular_user)
    regular_resp = _submit(client, world.project, regular_lease.pk, label="cat")
    assert messages_of(known_resp) == messages_of(regular_resp) == ["Answer saved. Here is the next one."]


# --- customer API -----------------------------------------------------------------------------

def _keys(obj) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def _decide_everything(world):
    """Answers from several annotators, then every item (checks too) decided, as if the
    engine had accepted them: the delivery and item list must still leave the checks out."""
    for role in ("annotator", "warned"):
        lease = world.leases[role]
        wf_services.task_submit(membership=world.memberships[role], lease_id=lease.pk, label="cat",
                                client_key=uuid.uuid4().hex)
    Item.objects.filter(project=world.project).update(status=Item.Status.ACCEPTED, label="cat", p_correct=0.97,
                                                      answers_count=1)


def test_customer_api_carries_no_check_and_no_annotator(world, sec):
    _decide_everything(world)
    api = world.api("customer_a")
    p = world.project.pk
    annotator_names = set(Membership.objects.filter(project=world.project).values_list("annotator__username", flat=True))
    emails = {f"sec-{r}@example.org" for r in ANNOTATORS} | {"secretzed-mail@example.org"}
    urls = [
        reverse("project-list"),
        reverse("project-detail", args=[p]),
        reverse("project-items", args=[p]),
        reverse("project-items", args=[p]) + "?status=accepted",
        reverse("project-progress", args=[p]),
        reverse("project-delivery", args=[p]),
    ]
    for url in urls:
        resp = api.get(url)
        assert resp.status_code == 200, url
        body = body_of(resp)
        assert {"is_known", "known_label", "is_check", "annotator", "username", "email"}.isdisjoint(_keys(resp.json())), url
        assert '"external_id":"known-' not in body, url
        for name in annotator_names | emails:
            assert name not in body, (url, name)
        if url != reverse("project-detail", args=[p]):  # the detail returns the customer's own examples
            assert "KNOWNMARKER" not in body and "KNOWNEXPLAIN" not in body, url
    items = api.get(reverse("project-items", args=[p])).json()
    assert sorted(r["external_id"] for r in items["results"]) == sorted(f"item-{i}" for i in range(sec.N_ITEMS))
    delivery = api.get(reverse("project-delivery", args=[p])).json()
    assert sorted(r["external_id"] for r in delivery["items"]) == sorted(f"item-{i}" for i in range(sec.N_ITEMS))
    project = api.get(reverse("project-detail", args=[p])).json()
    assert project["items_total"] == sec.N_ITEMS
    assert {e["role"] for e in project["examples"]} == {"tutorial", "qualifier", "known"}


def test_customer_api_errors_and_other_organisation(world):
    p = world.project.pk
    b = world.api("customer_b")
    for url in (reverse("project-detail", args=[p]), reverse("project-items", args=[p]),
                reverse("project-progress", args=[p]), reverse("project-delivery", args=[p])):
        resp = b.get(url)
        assert resp.status_code == 404, url
        body = body_of(resp)
        assert "PROJECT-A" not in body and "ITEMMARKER" not in body and "KNOWNMARKER" not in body, url
    # A's own upload errors: refused reserved ids say so without naming any existing check.
    a = world.api("customer_a")
    resp = a.post(reverse("project-items", args=[p]), {"items": [{"external_id": "known-1", "data": {"text": "x"}}]},
                  format="json")
    assert resp.status_code == 400
    body = body_of(resp)
    assert "KNOWNMARKER" not in body and "is_known" not in body
    existing = set(Item.objects.filter(project=world.project, is_known=True).values_list("external_id", flat=True))
    assert not any(e in body for e in existing - {"known-1"})


def test_the_detector_catches_planted_leaks():
    """The grep itself: each kind of leak, planted in a page, is caught."""
    planted = [
        "<p>KNOWNEXPLAIN-3</p>", "<input name=is_known>", "known-42", "<p>secretzed</p>", "<p>QUALEXPLAIN-1</p>",
        "<p>KNOWNMARKER-2 text</p>", '<script>var x = {"known": 1}</script>', "<script>ITEMMARKER-1</script>",
    ]
    for body in planted:
        with pytest.raises(AssertionError):
            assert_no_secrets(body, "planted", known_text_ok="KNOWNMARKER-1 text")
    assert_no_secrets("<p>KNOWNMARKER-1 text</p>", "own lease", known_text_ok="KNOWNMARKER-1 text")
    assert_no_secrets("<p>QUALEXPLAIN-1</p>", "own result", allow=("QUALEXPLAIN",))
