"""The Community tab as pages: listing, thread, comment form (CSRF), PR files, merge, close and hide buttons
for those allowed, private repositories as 404 pages. The browser story is tests/web/test_community.py (one
Playwright instance per test process: its fixtures live in tests/web)."""

from __future__ import annotations

from huggingface_hub import CommitOperationAdd, HfApi

from tests.conftest import Hub
from tests.web.conftest import WebClient, unique


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


def test_writers_hide_comments_from_the_page(sqlite_hub: Hub, web: WebClient, anon: WebClient) -> None:
    repo_id, api = _owned_repo(sqlite_hub, web)
    num = _bob_pr(sqlite_hub, repo_id)
    spam = sqlite_hub.api("bob").comment_discussion(repo_id, num, "cheap GPUs here")
    thread = f"/{repo_id}/discussions/{num}"
    assert f'data-hide="{spam.id}"' in web.get(thread).text and "data-hide" not in anon.get(thread).text
    page = web.post_form(thread, f"{thread}/hide", {"comment_id": spam.id})
    assert "cheap GPUs" not in page.text and "This comment has been hidden." in page.text
    assert api.get_discussion_details(repo_id, num).events[-1].hidden
