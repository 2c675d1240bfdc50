"""The annotator workbench in Debian's Chromium (issue 6): keyboard-only work, skip with a reason,
the lease countdown and its warnings, instructions and the key list one key away (dialogs that
trap focus and give it back), the progress line, a phone-sized screen without sideways scrolling,
and an axe-like check of labels, focus order and text contrast."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tasks_app.models import Answer, Lease
from tests.web.test_browser_signals import sign_in
from workforce import services as wf_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def at_task(page: Page, live_server, make_project, make_annotator, qualify):
    """A working annotator (no hidden checks) signed in on the task page of a 4-item project."""
    project = make_project(items=4, known=2)
    user = make_annotator("bench-ann")
    wf_services.membership_check_rate_set(membership=qualify(project, user), rate=0.0)
    sign_in(page, live_server.url, user)
    url = f"{live_server.url}/projects/{project.pk}/task/"
    page.goto(url)
    return page, project, user, url


def test_keyboard_only_answers_and_the_progress_line(at_task):
    page, project, user, _ = at_task
    expect(page.locator('[data-progress="today"]')).to_have_text("0")
    page.keyboard.press("1")  # choose the first label …
    expect(page.locator("input[name=label]").first).to_be_checked()
    expect(page.locator("input[name=label]").first).to_be_focused()
    page.keyboard.press("Enter")  # … and submit: no mouse anywhere
    expect(page.get_by_text("Answer saved. Here is the next one.")).to_be_visible()
    page.keyboard.press("2")
    page.keyboard.press("Control+Enter")  # Ctrl+Enter submits too
    expect(page.get_by_text("Answer saved. Here is the next one.")).to_be_visible()
    assert Answer.objects.filter(annotator=user).count() == 2
    expect(page.locator('[data-progress="session"]')).to_have_text("2")
    expect(page.locator('[data-progress="today"]')).to_have_text("2")
    expect(page.locator('[data-progress="earnings"]')).to_have_text("0.00")  # nothing settled yet


def test_skip_with_a_reason_by_keyboard_and_it_is_not_shown_again(at_task):
    page, project, user, _ = at_task
    first_text = page.locator(".item-text").inner_text()
    page.keyboard.press("s")
    dialog = page.locator("#skip-dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("5")  # "Other (say why)": the widget's own "5" underneath is not touched
    expect(dialog.get_by_role("radio", name=re.compile("Other"))).to_be_checked()
    page.keyboard.press("Enter")  # "other" without words: the server says what is missing
    expect(page.get_by_text("Say in a few words why you are skipping it.")).to_be_visible()
    assert not Lease.objects.filter(annotator=user, state="skipped").exists()

    page.keyboard.press("s")
    page.keyboard.press("2")  # broken item
    expect(dialog.get_by_role("radio", name=re.compile("broken"))).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Task skipped; you will not be shown it again.")).to_be_visible()
    skipped = Lease.objects.get(annotator=user, state="skipped")
    assert skipped.skip_reason == "broken" and skipped.item.data["text"] == first_text
    seen = []
    for _ in range(3):  # the other three items, answered; then nothing: the skipped one never returns
        seen.append(page.locator(".item-text").inner_text())
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        expect(page.get_by_text(re.compile("Answer saved"))).to_be_visible()
    assert first_text not in seen
    expect(page.get_by_role("heading", name="Nothing for you right now")).to_be_visible()


def test_countdown_ticks_warns_and_says_what_happens_at_expiry(page: Page, live_server, make_project, make_annotator,
                                                                qualify, settings):
    settings.CADRE_LEASE_SECONDS = 6  # the page may take a moment to arrive on this loaded machine
    project = make_project(items=2, known=1)
    user = make_annotator("timer-ann")
    wf_services.membership_check_rate_set(membership=qualify(project, user), rate=0.0)
    sign_in(page, live_server.url, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/task/")
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"^0:0[2-6]$"))
    first = timer.inner_text()
    expect(timer).not_to_have_text(first)  # it ticks
    warning = page.locator("#lease-warning")
    assert warning.get_attribute("aria-live") == "assertive"
    expect(warning).to_have_text("1 minute left on this task.")
    expect(timer).to_have_text("0:00", timeout=8000)
    expect(warning).to_contain_text("Time is up: this task went back to the pool")
    expect(page.get_by_role("button", name=re.compile("^Submit"))).to_be_disabled()
    fresh = page.get_by_role("link", name="Get a fresh task")
    expect(fresh).to_be_visible()
    fresh.click()
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^0:0[2-6]$"))


def test_instructions_and_keys_one_key_away_in_dialogs_that_trap_focus(at_task):
    page, *_ = at_task
    page.keyboard.press("i")
    dialog = page.get_by_role("dialog", name="Instructions")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Judge the reviewer's feeling.")
    expect(dialog).to_contain_text("TUT-EXPLAIN-1")  # the tutorial's worked examples, loaded on open
    expect(dialog).not_to_contain_text("QUAL-EXPLAIN")  # never the qualifier's answers
    for _ in range(6):  # Tab and Shift+Tab never leave the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('instructions-dialog').contains(document.activeElement)")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.getElementById('instructions-dialog').contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    for key in ("Enter", "Ctrl+Enter", "s", "i", "?", "Esc"):
        expect(help_dialog.locator("kbd", has_text=re.compile(f"^{re.escape(key)}$")).first).to_be_visible()
    help_dialog.get_by_role("button", name=re.compile("Close")).click()
    expect(help_dialog).to_be_hidden()
    # focus went back to the page, and keys still work after the dialogs
    page.keyboard.press("2")
    expect(page.locator("input[name=label]").nth(1)).to_be_checked()


def test_phone_screen_no_sideways_scroll(at_task):
    page, project, _, url = at_task
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (url, url.replace("/task/", "/instructions/")):
        page.goto(path)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (path, widths)
        wide = page.evaluate("""Array.from(document.querySelectorAll('main *')).filter(el => {
            const r = el.getBoundingClientRect(); return r.width > 0 && (r.right > innerWidth + 1 || r.left < -1);
        }).map(el => el.tagName + '.' + el.className)""")
        assert wide == [], (path, wide)
    page.goto(url)
    page.keyboard.press("s")
    box = page.locator("#skip-dialog").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    submit = page.get_by_role("button", name=re.compile("^Submit"))
    page.keyboard.press("Escape")
    assert submit.bounding_box()["height"] >= 40  # a thumb-sized target


AXE_LIKE = r"""() => {
  const problems = [];
  const visible = el => { const s = getComputedStyle(el); const r = el.getBoundingClientRect();
    return s.visibility !== 'hidden' && s.display !== 'none' && r.width > 0 && r.height > 0; };
  // 1. every form control has an accessible name
  for (const el of document.querySelectorAll('input:not([type=hidden]), textarea, select, button')) {
    if (!visible(el)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (el.tagName === 'BUTTON' && el.textContent.trim());
    if (!named) problems.push('no name: ' + el.outerHTML.slice(0, 80));
  }
  // 2. no positive tabindex (focus order = reading order)
  for (const el of document.querySelectorAll('[tabindex]')) if (+el.getAttribute('tabindex') > 0) problems.push('tabindex>0: ' + el.tagName);
  // 3. text contrast >= 4.5:1 against the first opaque background up the tree
  const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3); } return [255, 255, 255]; };
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || el.closest('dialog:not([open])')) continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('button[disabled]')) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3), b = bg(el);
    const [hi, lo] = [lum(fg), lum(b)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)}: ${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}"`);
  }
  return problems;
}"""


def test_axe_like_labels_focus_order_contrast(at_task):
    page, *_ = at_task
    assert page.evaluate(AXE_LIKE) == []
    page.keyboard.press("s")
    assert page.evaluate(AXE_LIKE) == []
    page.keyboard.press("Escape")
    expect(page.locator("#skip-dialog")).to_be_hidden()
    page.reload()
    # focus order: the skip link first, then the navigation, then the page in reading order, each visibly marked
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    order = []
    for _ in range(13):  # every focusable element of the page, through the last (Skip)
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.tagName + ':' + (document.activeElement.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40) || document.activeElement.value)"))
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid", order
    joined = " | ".join(order)
    assert joined.index("Review sentiment") < joined.index("Instructions") < joined.index("positive") < joined.index("Submit"), joined
    assert order[-1].startswith("BUTTON:Skip"), joined
