"""Issue 3a in Debian's Chromium: ops' vetting queue and identity check, suspension seen by the
annotator, and an invite-only project reached through an invitation."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from workforce import services as wf_services
from workforce.models import AnnotatorProfile, Invitation, StatusChange
from tests.web.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_vetting_queue_identity_check_and_suspension(page: Page, live_server, staff, web_data):
    base = live_server.url
    applicant = wf_services.annotator_signup(username="queued", password=web_data.password, email="q@example.org")
    wf_services.profile_update(annotator=applicant, values={"age": 40, "country": "FR", "languages": ["fr"]})

    login(page, base, "opsy", web_data.password)
    page.goto(f"{base}/ops/people/")
    row = page.locator("tr", has_text="queued")
    expect(row).to_contain_text("verify your email address")
    row.get_by_role("link", name="queued").click()
    page.get_by_role("button", name="Identity check failed").click()
    expect(page.get_by_text("Say why the identity check failed.")).to_be_visible()  # a reason is required
    page.get_by_role("button", name="Identity check passed").click()
    expect(page.get_by_text("Identity check recorded.")).to_be_visible()
    expect(page.get_by_text("Identity: Passed")).to_be_visible()
    assert AnnotatorProfile.objects.get(user=applicant).status == "applicant"  # email still unverified

    wf_services.annotator_make_active(annotator=applicant, reason="test: vetted")
    page.reload()
    page.get_by_label("Note / reason").fill("Two accounts from one person")
    page.get_by_role("button", name="Suspend on every project").click()
    expect(page.get_by_text("queued is suspended.")).to_be_visible()
    expect(page.locator("td", has_text="Two accounts from one person")).to_be_visible()
    last = StatusChange.objects.filter(annotator=applicant).last()
    assert (last.to_status, last.actor.username) == ("suspended", "opsy")
    page.get_by_role("button", name="Log out (opsy)").click()

    login(page, base, "queued", web_data.password)
    expect(page.get_by_text("Your account is suspended.")).to_be_visible()
    page.goto(f"{base}/account/")
    expect(page.get_by_text("Two accounts from one person")).to_be_visible()


def test_invitation_opens_an_invite_only_project(page: Page, live_server, project, make_annotator, staff, web_data):
    base = live_server.url
    ann = make_annotator("invitee")
    wf_services.audience_set(project=project, invite_only=True)

    login(page, base, "invitee", web_data.password)
    expect(page.get_by_role("link", name=project.name)).to_have_count(0)
    page.get_by_role("button", name="Log out (invitee)").click()

    login(page, base, "opsy", web_data.password)
    page.goto(f"{base}/ops/projects/{project.pk}/invitations/")
    page.get_by_role("button", name="Invite by predicted accuracy").click()
    expect(page.get_by_text("Invited 1 annotators.")).to_be_visible()
    expect(page.locator("td", has_text="invitee")).to_be_visible()
    page.get_by_role("button", name="Log out (opsy)").click()

    login(page, base, "invitee", web_data.password)
    page.goto(f"{base}/invitations/")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Invitation accepted")).to_be_visible()
    assert Invitation.objects.get(annotator=ann).state == "accepted"
    page.goto(f"{base}/")
    expect(page.get_by_role("link", name=project.name)).to_be_visible()
