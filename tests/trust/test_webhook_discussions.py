"""Webhooks for discussions, pull requests and refs moved through the API: the Hub's payloads (parsed by
huggingface_hub's own WebhookPayload model), delivered to a receiver started by the test."""

from __future__ import annotations

import time
import uuid
from typing import Any

from huggingface_hub import CommitOperationAdd, WebhookPayload

from tests.conftest import Hub
from tests.trust.conftest import Receiver


def _heard(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    """The first `count` payloads, each checked against the client's model; then nothing more arrives."""
    events = [r.json for r in receiver.wait_for(count)]
    time.sleep(1)
    assert len(receiver.requests) == count, [(e["event"], e.get("updatedRefs")) for e in receiver.requests[count:]]
    for event in events:
        WebhookPayload.model_validate(event)
    return events


def _kinds(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((e["event"]["action"], e["event"]["scope"]) for e in events)


def _new_repo(hub: Hub, owner: str = "alice", private: bool = False) -> str:
    repo_id = f"{owner}/w{uuid.uuid4().hex[:10]}"
    hub.api("alice").create_repo(repo_id, private=private)
    hub.api("alice").upload_file(path_or_fileobj=b"x", path_in_repo="a.txt", repo_id=repo_id)
    return repo_id


def test_a_discussion_s_life_is_heard(whub: Hub, receiver: Receiver) -> None:
    repo_id = _new_repo(whub)
    alice, bob = whub.api("alice"), whub.api("bob")
    alice.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo_id}], domains=["discussion"])
    num = bob.create_discussion(repo_id, "Typo", description="In the card").num
    (opened,) = _heard(receiver, 1)
    assert opened["event"] == {"action": "create", "scope": "discussion"} and opened["repo"]["name"] == repo_id
    d = opened["discussion"]
    assert (d["num"], d["title"], d["isPullRequest"], d["status"]) == (num, "Typo", False, "open")
    assert d["url"]["web"].endswith(f"/{repo_id}/discussions/{num}") and "changes" not in d
    assert opened["comment"]["content"] == "In the card" and opened["comment"]["hidden"] is False

    comment = bob.comment_discussion(repo_id, num, "Line 3")
    bob.edit_discussion_comment(repo_id, num, comment.id, "Line 4")
    alice.rename_discussion(repo_id, num, "Typo in the card")
    alice.hide_discussion_comment(repo_id, num, comment.id)
    alice.change_discussion_status(repo_id, num, "closed", comment="Fixed")
    events = _heard(receiver, 7)[1:]
    assert _kinds(events) == [
        ("create", "discussion.comment"),
        ("create", "discussion.comment"),
        ("update", "discussion"),
        ("update", "discussion"),
        ("update", "discussion.comment"),
        ("update", "discussion.comment"),
    ]
    comments = {
        (e["event"]["action"], e["comment"]["content"], e["comment"]["hidden"]) for e in events if "comment" in e
    }
    assert comments == {
        ("create", "Line 3", False),
        ("update", "Line 4", False),
        ("update", None, True),
        ("create", "Fixed", False),
    }
    assert {e["comment"]["id"] for e in events if "comment" in e and e["comment"]["content"] != "Fixed"} == {comment.id}
    assert {e["discussion"]["title"] for e in events} >= {"Typo in the card"}
    assert [e["discussion"]["status"] for e in events if e["event"]["scope"] == "discussion"][-1] == "closed"


def test_a_pull_request_and_its_merge_are_heard(whub: Hub, receiver: Receiver) -> None:
    repo_id = _new_repo(whub)
    whub.api("alice").create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo_id}])
    main_before = whub.api("alice").model_info(repo_id).sha
    pr = whub.api("bob").create_commit(
        repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="Add b", create_pr=True
    )
    opened = _heard(receiver, 2)
    assert _kinds(opened) == [("create", "discussion"), ("update", "repo.content")]
    d = next(e["discussion"] for e in opened if "discussion" in e)
    assert d["isPullRequest"] is True and d["status"] == "open" and d["changes"] == {"base": "refs/heads/main"}
    (refs,) = [e["updatedRefs"] for e in opened if "updatedRefs" in e]
    assert refs == [{"ref": f"refs/pr/{pr.pr_num}", "oldSha": None, "newSha": pr.oid}]

    whub.api("alice").merge_pull_request(repo_id, pr.pr_num)
    merged = _heard(receiver, 4)[2:]
    assert _kinds(merged) == [("update", "discussion"), ("update", "repo.content")]
    d = next(e["discussion"] for e in merged if "discussion" in e)
    main_after = whub.api("alice").model_info(repo_id).sha
    assert d["status"] == "merged" and d["changes"] == {"base": "refs/heads/main", "mergeCommitId": main_after}
    (refs,) = [e["updatedRefs"] for e in merged if "updatedRefs" in e]
    assert refs == [{"ref": "refs/heads/main", "oldSha": main_before, "newSha": main_after}]


def test_branches_and_tags_made_through_the_api_are_heard(whub: Hub, receiver: Receiver) -> None:
    repo_id = _new_repo(whub)
    api = whub.api("alice")
    api.create_webhook(url=receiver.url, watched=[{"type": "user", "name": "alice"}], domains=["repo"])
    head = api.model_info(repo_id).sha
    api.create_branch(repo_id, branch="dev")
    api.create_tag(repo_id, tag="v1")
    api.delete_tag(repo_id, tag="v1")
    api.delete_branch(repo_id, branch="dev")
    events = _heard(receiver, 4)
    assert {e["event"]["scope"] for e in events} == {"repo.content"} and {e["event"]["action"] for e in events} == {
        "update"
    }
    moves = {(r["ref"], r["oldSha"], r["newSha"]) for e in events for r in e["updatedRefs"]}
    assert moves == {
        ("refs/heads/dev", None, head),
        ("refs/heads/dev", head, None),
        ("refs/tags/v1", None, head),
        ("refs/tags/v1", head, None),
    }


def test_discussions_of_a_private_repo_reach_only_members(whub: Hub) -> None:
    carols, bobs = Receiver(), Receiver()
    try:
        repo_id = _new_repo(whub, owner="acme", private=True)
        whub.api("carol").create_webhook(url=carols.url, watched=[{"type": "org", "name": "acme"}])
        whub.api("bob").create_webhook(url=bobs.url, watched=[{"type": "org", "name": "acme"}])
        whub.api("dave").create_discussion(repo_id, "Private matters")
        (event,) = _heard(carols, 1)
        assert event["discussion"]["title"] == "Private matters" and event["repo"]["private"] is True
        assert not bobs.requests
    finally:
        carols.close()
        bobs.close()
