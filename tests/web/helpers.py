"""Small helpers shared by the Playwright browser tests (fixtures live in conftest.py)."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def login(page: Page, base: str, username: str, password: str) -> None:
    """Sign in through the login form and wait until the page says who is signed in."""
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=re.compile("Log out"))).to_be_visible()
