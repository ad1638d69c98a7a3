"""The Community tab in a real browser (headless Chromium): review a pull request, comment, merge."""

from __future__ import annotations

from typing import Any

from tests.conftest import Hub
from tests.discussions.test_web import _bob_pr, _owned_repo
from tests.web.conftest import PASSWORD, WebClient


def test_browser_story_review_comment_and_merge_a_pull_request(sqlite_hub: Hub, web: WebClient, new_page: Any) -> None:
    base = sqlite_hub.url
    repo_id, api = _owned_repo(sqlite_hub, web)
    num = _bob_pr(sqlite_hub, repo_id)
    sqlite_hub.api("bob").comment_discussion(repo_id, num, "Please have a look")
    page = new_page()
    page.goto(f"{base}/login")
    page.fill("#name", web.user)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.goto(f"{base}/{repo_id}")
    page.click("nav.tabs a:has-text('Community')")
    page.click("a:has-text('Add pr.txt')")
    page.wait_for_url(f"{base}/{repo_id}/discussions/{num}")
    assert page.locator("#thread-status").inner_text() == "open"
    assert page.locator(".event-comment .comment").last.inner_text() == "Please have a look"
    page.click("a:has-text('Files changed')")
    assert page.locator("section.diff code").first.inner_text() == "pr.txt"
    page.go_back()
    page.fill("#comment", "Thanks, **merging**")
    page.click("button:has-text('Comment')")
    assert page.locator(".event-comment .comment strong").last.inner_text() == "merging"
    page.click("#merge")
    page.wait_for_selector("#thread-status:has-text('merged')")
    assert page.locator(".event-status-change").last.inner_text().count("merged") == 1
    assert api.get_discussion_details(repo_id, num).status == "merged"
