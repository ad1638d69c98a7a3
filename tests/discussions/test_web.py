"""The Community tab as pages: listing, thread, comment form (CSRF), PR files, merge and close buttons for
those allowed, private repositories as 404 pages; and one story in a real browser."""

from __future__ import annotations

from typing import Any

from huggingface_hub import CommitOperationAdd, HfApi

from tests.conftest import Hub
from tests.web.conftest import PASSWORD, WebClient, unique


def _owned_repo(sqlite_hub: Hub, web: WebClient, private: bool = False) -> tuple[str, HfApi]:
    """A repository of a user signed up through the web, with one file; and that user's API client."""
    owner = web.sign_up()
    api = HfApi(endpoint=sqlite_hub.url, token=web.token())
    repo_id = f"{owner}/{unique('r')}"
    api.create_repo(repo_id, private=private)
    api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="a.txt", repo_id=repo_id)
    return repo_id, api


def _bob_pr(sqlite_hub: Hub, repo_id: str) -> int:
    info = sqlite_hub.api("bob").create_commit(
        repo_id, [CommitOperationAdd("pr.txt", b"from bob\n")], commit_message="Add pr.txt", create_pr=True
    )
    assert info.pr_num is not None
    return info.pr_num


def test_the_community_tab_lists_threads_and_opens_new_ones(sqlite_hub: Hub, web: WebClient) -> None:
    repo_id, _ = _owned_repo(sqlite_hub, web)
    num = _bob_pr(sqlite_hub, repo_id)
    page = web.get(f"/{repo_id}/discussions")
    assert page.status_code == 200 and "Add pr.txt" in page.text and "PR · open" in page.text
    made = web.post_form(
        f"/{repo_id}/discussions",
        f"/{repo_id}/discussions",
        {"title": "A *question*", "description": "Does it **work**?"},
    )
    assert made.status_code == 200 and str(made.url).endswith(f"/{repo_id}/discussions/{num + 1}")
    assert "<strong>work</strong>" in made.text  # Markdown, rendered and sanitised
    forged = web.http.post(f"/{repo_id}/discussions", data={"csrf_token": "forged", "title": "x", "description": "y"})
    assert forged.status_code == 403
    assert len(list(sqlite_hub.api("alice").get_repo_discussions(repo_id))) == 2


def test_writers_merge_from_the_thread_page_others_see_no_button(
    sqlite_hub: Hub, web: WebClient, anon: WebClient
) -> None:
    repo_id, api = _owned_repo(sqlite_hub, web)
    num = _bob_pr(sqlite_hub, repo_id)
    thread = f"/{repo_id}/discussions/{num}"
    assert 'id="merge"' not in anon.get(thread).text and "Log in" in anon.get(thread).text
    files = web.get(f"{thread}/files")
    assert files.status_code == 200 and "pr.txt" in files.text and "from bob" in files.text
    done = web.post_form(thread, f"{thread}/merge", {})
    assert done.status_code == 200 and 'id="thread-status">merged' in done.text
    assert api.hf_hub_download(repo_id, "pr.txt") and api.get_discussion_details(repo_id, num).status == "merged"
    assert "from bob" in web.get(f"{thread}/files").text  # a merged PR still shows what it brought


def test_comments_and_closing_from_the_page(sqlite_hub: Hub, web: WebClient) -> None:
    repo_id, api = _owned_repo(sqlite_hub, web)
    num = _bob_pr(sqlite_hub, repo_id)
    thread = f"/{repo_id}/discussions/{num}"
    page = web.post_form(thread, f"{thread}/comment", {"comment": "<script>alert(1)</script>Looks good"})
    assert "Looks good" in page.text and "<script>alert(1)" not in page.text
    page = web.post_form(thread, f"{thread}/status", {"status": "closed"})
    assert 'id="thread-status">closed' in page.text and 'id="reopen"' in page.text
    assert [e.type for e in api.get_discussion_details(repo_id, num).events][-2:] == ["comment", "status-change"]


def test_a_private_repository_s_threads_are_404_pages_to_outsiders(
    sqlite_hub: Hub, web: WebClient, anon: WebClient
) -> None:
    repo_id, api = _owned_repo(sqlite_hub, web, private=True)
    num = api.create_discussion(repo_id, "secret plans").num
    for path in (f"/{repo_id}/discussions", f"/{repo_id}/discussions/{num}"):
        assert web.get(path).status_code == 200
        page = anon.get(path)
        assert page.status_code == 404 and "secret plans" not in page.text


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


def test_writers_hide_comments_from_the_page(sqlite_hub: Hub, web: WebClient, anon: WebClient) -> None:
    repo_id, api = _owned_repo(sqlite_hub, web)
    num = _bob_pr(sqlite_hub, repo_id)
    spam = sqlite_hub.api("bob").comment_discussion(repo_id, num, "cheap GPUs here")
    thread = f"/{repo_id}/discussions/{num}"
    assert f'data-hide="{spam.id}"' in web.get(thread).text and "data-hide" not in anon.get(thread).text
    page = web.post_form(thread, f"{thread}/hide", {"comment_id": spam.id})
    assert "cheap GPUs" not in page.text and "This comment has been hidden." in page.text
    assert api.get_discussion_details(repo_id, num).events[-1].hidden
