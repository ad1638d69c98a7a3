"""Discussions through the real huggingface_hub client: open, list and filter, comment, edit, hide,
rename, close and reopen; who may do which; private repositories stay invisible."""

from __future__ import annotations

import warnings

import pytest
from huggingface_hub import DiscussionComment, DiscussionStatusChange, DiscussionTitleChange
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.conftest import Hub


def _status(exc: pytest.ExceptionInfo[HfHubHTTPError]) -> int:
    return exc.value.response.status_code


def test_a_discussion_opens_with_its_description_as_the_first_comment(hub: Hub, repo_id: str) -> None:
    bob = hub.api("bob")
    d = bob.create_discussion(repo_id, "Which tokenizer?", description="Is it the BERT one?")
    assert (d.num, d.title, d.status, d.author, d.is_pull_request) == (1, "Which tokenizer?", "open", "bob", False)
    assert d.repo_id == repo_id and d.url == f"{hub.url}/{repo_id}/discussions/1"
    [first] = d.events
    assert isinstance(first, DiscussionComment)
    assert (first.content, first.author, first.edited, first.hidden) == ("Is it the BERT one?", "bob", False, False)
    assert d.git_reference is None and d.target_branch is None and d.diff is None


def test_numbers_grow_per_repository_and_listing_pages_newest_first(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    for i in range(53):  # more than one page of 50
        api.create_discussion(repo_id, f"thread {i:02d}")
    listed = list(api.get_repo_discussions(repo_id))
    assert [d.num for d in listed] == list(range(53, 0, -1))
    assert listed[0].title == "thread 52" and listed[0].author == "alice"


def test_listing_filters_by_author_type_and_status(hub: Hub, repo_id: str) -> None:
    alice, bob = hub.api("alice"), hub.api("bob")
    alice.create_discussion(repo_id, "by alice")
    bob.create_discussion(repo_id, "by bob")
    pr = bob.create_pull_request(repo_id, "bob's proposal")
    bob.change_discussion_status(repo_id, 2, "closed")

    def nums(**kw: str) -> list[int]:
        return [d.num for d in alice.get_repo_discussions(repo_id, **kw)]

    assert nums() == [3, 2, 1]
    assert nums(author="bob") == [3, 2]
    assert nums(discussion_type="pull_request") == [pr.num]
    assert nums(discussion_type="discussion") == [2, 1]
    assert nums(discussion_status="closed") == [2]
    assert nums(discussion_status="open") == [3, 1]
    assert nums(author="nobody") == []


def test_comments_can_be_edited_by_their_author_only_and_keep_their_history(hub: Hub, repo_id: str) -> None:
    alice, bob = hub.api("alice"), hub.api("bob")
    num = bob.create_discussion(repo_id, "A typo").num
    c = bob.comment_discussion(repo_id, num, "teh model")
    assert isinstance(c, DiscussionComment) and c.content == "teh model" and c.author == "bob"
    edited = bob.edit_discussion_comment(repo_id, num, c.id, "the model")
    assert (edited.id, edited.content, edited.edited) == (c.id, "the model", True)
    assert [h["raw"] for h in edited.edit_history] == ["teh model"]
    with pytest.raises(HfHubHTTPError) as exc:
        alice.edit_discussion_comment(repo_id, num, c.id, "not yours")
    assert _status(exc) == 403
    events = alice.get_discussion_details(repo_id, num).events
    assert [e.content for e in events if isinstance(e, DiscussionComment)] == [
        "A typo" and events[0].content,
        "the model",
    ]


def test_writers_hide_comments_for_good(hub: Hub, repo_id: str) -> None:
    alice, bob = hub.api("alice"), hub.api("bob")
    num = bob.create_discussion(repo_id, "Spam inside").num
    c = bob.comment_discussion(repo_id, num, "buy cheap GPUs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(HfHubHTTPError) as exc:
            bob.hide_discussion_comment(repo_id, num, c.id)
        assert _status(exc) == 403
        hidden = alice.hide_discussion_comment(repo_id, num, c.id)
    assert hidden.hidden and hidden.content == ""
    again = alice.get_discussion_details(repo_id, num).events[-1]
    assert isinstance(again, DiscussionComment) and again.hidden and again.content == ""
    with pytest.raises(HfHubHTTPError) as exc:
        bob.edit_discussion_comment(repo_id, num, c.id, "sneaky")
    assert _status(exc) == 400


def test_author_and_writers_rename_close_and_reopen_others_may_not(hub: Hub, repo_id: str) -> None:
    alice, bob, carol = hub.api("alice"), hub.api("bob"), hub.api("carol")
    num = bob.create_discussion(repo_id, "Old title").num
    renamed = bob.rename_discussion(repo_id, num, "New title")
    assert isinstance(renamed, DiscussionTitleChange) and (renamed.old_title, renamed.new_title) == (
        "Old title",
        "New title",
    )
    for method, arg in ((carol.rename_discussion, "Hijacked"), (carol.change_discussion_status, "closed")):
        with pytest.raises(HfHubHTTPError) as exc:
            method(repo_id, num, arg)
        assert _status(exc) == 403
    closed = alice.change_discussion_status(repo_id, num, "closed", comment="Answered in the card.")
    assert isinstance(closed, DiscussionStatusChange) and closed.new_status == "closed" and closed.author == "alice"
    reopened = bob.change_discussion_status(repo_id, num, "open")
    assert reopened.new_status == "open"
    d = alice.get_discussion_details(repo_id, num)
    assert d.title == "New title" and d.status == "open"
    assert [e.type for e in d.events] == ["comment", "title-change", "comment", "status-change", "status-change"]


def test_taking_part_needs_an_account_and_a_write_token(hub: Hub, repo_id: str) -> None:
    num = hub.api("alice").create_discussion(repo_id, "Hello").num
    assert [d.num for d in hub.api(None).get_repo_discussions(repo_id)] == [num]  # reading is public
    assert hub.api(None).get_discussion_details(repo_id, num).title == "Hello"
    with pytest.raises(HfHubHTTPError) as exc:
        hub.api(None).create_discussion(repo_id, "Anonymous?")
    assert _status(exc) == 401
    with pytest.raises(HfHubHTTPError) as exc:
        hub.api("bob", read_only=True).comment_discussion(repo_id, num, "with a read token")
    assert _status(exc) == 403


def test_a_private_repository_s_threads_are_404_to_outsiders(hub: Hub, repo_name: str) -> None:
    alice = hub.api("alice")
    repo_id = f"acme/{repo_name}"
    alice.create_repo(repo_id, private=True)
    num = alice.create_discussion(repo_id, "Internal").num
    assert hub.api("carol").get_discussion_details(repo_id, num).title == "Internal"  # acme reader
    for user in (None, "bob"):
        api = hub.api(user)
        for method, args in (
            (lambda *a: list(api.get_repo_discussions(*a)), (repo_id,)),  # noqa: B023 (called in this iteration)
            (api.get_discussion_details, (repo_id, num)),
            (api.comment_discussion, (repo_id, num, "hi")),
            (api.create_discussion, (repo_id, "Let me in")),
        ):
            with pytest.raises(RepositoryNotFoundError):
                method(*args)


def test_bad_input_is_a_400_and_missing_threads_a_404(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_discussion(repo_id, "  ")
    assert _status(exc) == 400
    with pytest.raises(HfHubHTTPError) as exc:
        api.get_discussion_details(repo_id, 999)
    assert _status(exc) == 404
    num = api.create_discussion(repo_id, "Fine").num
    with pytest.raises(HfHubHTTPError) as exc:
        api.comment_discussion(repo_id, num, "   ")
    assert _status(exc) == 400
    with pytest.raises(HfHubHTTPError) as exc:
        api.edit_discussion_comment(repo_id, num, "0" * 24, "nothing there")
    assert _status(exc) == 404


def test_concurrent_openings_get_distinct_consecutive_numbers(hub: Hub, repo_id: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    users = ["alice", "bob", "carol", "dave"] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        nums = list(pool.map(lambda u: hub.api(u).create_discussion(repo_id, f"by {u}").num, users))
    assert sorted(nums) == list(range(1, len(users) + 1))
