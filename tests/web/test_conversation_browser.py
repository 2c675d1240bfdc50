"""A two-person conversation held between two browser contexts in Debian's Chromium (issue 6):
two annotators are paired live, alternate turns in their roles, each sees the other's turns as
they arrive; the finished dialogue is then labelled by a third annotator on the labelling project.
Then the abandon path: a partner who leaves releases the pair and nothing is kept."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tasks_app import services as task_services
from tasks_app.models import Answer, Conversation, Item, Turn
from tasks_app.services import conversations as conv
from tests.web.test_browser_signals import sign_in
from workforce import services as wf_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = [{"name": "Flower seller", "instructions": "You run a small flower stall."},
         {"name": "Buyer", "instructions": "You want flowers for a friend's birthday."}]


def _page(browser: Browser, base: str, user) -> Page:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # phones, too
    page = context.new_page()
    sign_in(page, base, user)
    return page


def _say(page: Page, text: str) -> None:
    box = page.get_by_label(re.compile("Your turn as the"))
    expect(box).to_be_enabled()
    box.fill(text)
    box.press("Control+Enter")
    expect(page.locator("#dialogue li").last).to_contain_text(text)


def test_two_annotators_hold_a_conversation_and_it_is_then_labelled(browser: Browser, live_server, make_project,
                                                                    make_annotator, qualify):
    base = live_server.url
    labelling = make_project(items=0, known=2, launch=False, name="Rate flower talks")
    talks = make_project(items=2, known=2, name="Flower talks")
    conv.conversation_project_configure(project=talks, config={"roles": ROLES, "min_turns": 2, "max_turns": 6,
                                                               "labelling_project": labelling.pk})
    seller_user, buyer_user = make_annotator("seller"), make_annotator("buyer")
    qualify(talks, seller_user), qualify(talks, buyer_user)

    seller = _page(browser, base, seller_user)
    seller.goto(f"{base}/projects/{talks.pk}/task/")  # the task link leads conversation projects here
    assert seller.url.endswith(f"/projects/{talks.pk}/conversation/")
    expect(seller.get_by_role("heading", name="You are the Flower seller")).to_be_visible()
    expect(seller.get_by_role("status")).to_have_text(re.compile("Waiting for a partner to join as the Buyer"))
    expect(seller.get_by_label(re.compile("Your turn as the"))).to_be_disabled()

    buyer = _page(browser, base, buyer_user)
    buyer.goto(f"{base}/projects/{talks.pk}/conversation/")
    expect(buyer.get_by_role("heading", name="You are the Buyer")).to_be_visible()
    expect(buyer.get_by_text("You want flowers for a friend's birthday.")).to_be_visible()
    width = buyer.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], width  # no sideways scrolling on a 390 px phone
    expect(buyer.get_by_role("status")).to_have_text("Waiting for the Flower seller to write…")
    # the seller's page learns of the pairing by polling
    expect(seller.get_by_role("status")).to_have_text("Your turn (Flower seller).")

    _say(seller, "Good morning! Roses are fresh today.")
    expect(buyer.locator("#dialogue li")).to_have_count(1)  # arrives without a reload
    expect(buyer.locator("#dialogue li").first).to_contain_text("Flower seller Good morning! Roses are fresh today.")
    _say(buyer, "Lovely, six red roses please.")
    expect(seller.locator("#dialogue li").nth(1)).to_contain_text("Buyer Lovely, six red roses please.")
    _say(seller, "That is 9 euros, wrapped.")
    expect(buyer.get_by_role("button", name="End the dialogue")).to_be_enabled()
    buyer.get_by_role("button", name="End the dialogue").click()
    expect(buyer.get_by_role("status")).to_have_text("The dialogue is finished. Thank you!")
    expect(seller.get_by_role("status")).to_have_text("The dialogue is finished. Thank you!")
    expect(seller.get_by_role("link", name="Next conversation")).to_be_visible()

    c = Conversation.objects.get(project=talks, state="finished")
    assert list(Turn.objects.filter(conversation=c).values_list("role", "text")) == [
        (0, "Good morning! Roses are fresh today."), (1, "Lovely, six red roses please."), (0, "That is 9 euros, wrapped.")]
    item = Item.objects.get(project=labelling, external_id=f"conversation-{c.pk}")

    # the labelling pass: a third annotator labels the dialogue on the labelling project's ordinary task page
    labelling = task_services.project_launch(project=labelling)
    labeller_user = make_annotator("labeller")
    wf_services.membership_check_rate_set(membership=qualify(labelling, labeller_user), rate=0.0)
    labeller = _page(browser, base, labeller_user)
    labeller.goto(f"{base}/projects/{labelling.pk}/task/")
    expect(labeller.locator(".item-text")).to_contain_text("Buyer: Lovely, six red roses please.")
    labeller.keyboard.press("1")
    labeller.keyboard.press("Enter")
    expect(labeller.get_by_text("Answer saved.")).to_be_visible()
    assert Answer.objects.get(annotator=labeller_user).item_id == item.pk

    # the abandon path: a new pair on the other scenario; the buyer leaves; nothing is kept
    seller.get_by_role("link", name="Next conversation").click()
    expect(seller.get_by_role("status")).to_have_text(re.compile("Waiting for a partner"))
    buyer.goto(f"{base}/projects/{talks.pk}/conversation/")
    expect(seller.get_by_role("status")).to_have_text("Your turn (Flower seller).")
    _say(seller, "Hello again!")
    buyer.get_by_role("button", name=re.compile("^Leave")).click()
    expect(seller.get_by_role("status")).to_have_text(re.compile("abandoned: Your partner left the conversation"))
    expect(seller.locator("#dialogue li")).to_have_count(0)
    expect(seller.get_by_label(re.compile("Your turn as the"))).to_be_disabled()
    gone = Conversation.objects.get(project=talks, state="abandoned")
    assert not Turn.objects.filter(conversation=gone).exists()
    assert Item.objects.filter(project=labelling, is_known=False).count() == 1
