"""Issue 3a in Debian's Chromium: ops write a survey in the editor, an annotator takes it
(wrong type refused, then paid once), a contradicting answer shows up in ops' flagged profiles."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from workforce import services as wf_services
from workforce.models import ProfileFlag, SurveyCompletion
from tests.web.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_survey_editor_answer_and_flag(page: Page, live_server, make_annotator, staff, web_data):
    base = live_server.url
    ann = make_annotator("surveyee")
    wf_services.profile_update(annotator=ann, values={"gender": "man"})

    login(page, base, "opsy", web_data.password)
    page.goto(f"{base}/ops/surveys/")
    page.get_by_label("Title").fill("Who you are")
    page.get_by_label("Reward (paid once on completion)").fill("1.25")
    page.get_by_role("button", name="Create the survey").click()
    expect(page.get_by_text("Survey created")).to_be_visible()
    page.get_by_label("Question").fill("How old are you?")
    page.get_by_label("Kind").select_option("number")
    page.get_by_label("Sets profile attribute").select_option("age")
    page.get_by_role("button", name="Add the question").click()
    page.get_by_label("Question").fill("Your gender?")
    page.get_by_label("Kind").select_option("single")
    page.get_by_label("Sets profile attribute").select_option("gender")
    page.get_by_role("button", name="Add the question").click()
    page.get_by_role("button", name="Open the survey").click()
    expect(page.get_by_text("Survey opened.")).to_be_visible()
    page.get_by_role("button", name="Log out (opsy)").click()

    login(page, base, "surveyee", web_data.password)
    page.goto(f"{base}/surveys/")
    page.get_by_role("link", name="Take the survey").click()
    page.get_by_label("How old are you?").fill("two hundred")
    page.get_by_role("radio", name="woman").check()
    page.get_by_role("button", name="Submit the survey").click()
    expect(page.get_by_text("Enter a whole number.")).to_be_visible()
    assert not SurveyCompletion.objects.exists()
    page.get_by_label("How old are you?").fill("29")
    page.get_by_role("radio", name="woman").check()
    page.get_by_role("button", name="Submit the survey").click()
    expect(page.get_by_text("1.25 will be paid")).to_be_visible()
    expect(page.get_by_text("Completed")).to_be_visible()
    assert SurveyCompletion.objects.filter(annotator=ann).count() == 1
    assert ProfileFlag.objects.filter(annotator=ann, key="gender").exists()
    page.get_by_role("button", name="Log out (surveyee)").click()

    login(page, base, "opsy", web_data.password)
    page.goto(f"{base}/ops/flags/")
    expect(page.get_by_role("heading", name="surveyee: gender")).to_be_visible()
    page.get_by_label("Resolution").fill("Asked them: a typo")
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("No open flags.")).to_be_visible()
