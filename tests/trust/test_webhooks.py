"""Webhooks through the real client: the Hub's management API, signed HF-shaped payloads for repository
events and commits, retries with backoff logged per delivery, and the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import httpx
import pytest
from huggingface_hub import WebhookPayload
from huggingface_hub.errors import HfHubHTTPError

from tests.conftest import Hub
from tests.trust.conftest import Receiver

SECRET = "s3cret-for-tests"


def _watch_repo(hub: Hub, receiver: Receiver, repo_id: str, user: str = "alice", **kw: object) -> str:
    hook = hub.api(user).create_webhook(
        url=receiver.url, watched=[{"type": "model", "name": repo_id}], domains=["repo"], secret=SECRET, **kw
    )
    return hook.id


def _deliveries(hub: Hub, hook_id: str, user: str = "alice") -> list[dict]:
    r = httpx.get(
        f"{hub.url}/api/settings/webhooks/{hook_id}/deliveries",
        headers={"authorization": f"Bearer {hub.tokens[user]}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _until(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
    return value


def test_the_management_api_round_trips(whub: Hub, receiver: Receiver) -> None:
    api = whub.api("alice")
    hook = api.create_webhook(url=receiver.url, watched=[{"type": "user", "name": "alice"}], secret=SECRET)
    assert len(hook.id) == 24 and hook.url == receiver.url and hook.secret == SECRET and hook.disabled is False
    assert hook.domains == ["repo", "discussion"]
    assert [(w.type, w.name) for w in hook.watched] == [("user", "alice")]
    assert hook.id in [h.id for h in api.list_webhooks()]
    updated = api.update_webhook(hook.id, watched=[{"type": "org", "name": "acme"}], domains=["repo"])
    assert [(w.type, w.name) for w in updated.watched] == [("org", "acme")] and updated.domains == ["repo"]
    assert api.disable_webhook(hook.id).disabled is True
    assert api.get_webhook(hook.id).disabled is True
    assert api.enable_webhook(hook.id).disabled is False
    api.delete_webhook(hook.id)
    with pytest.raises(HfHubHTTPError) as e:
        api.get_webhook(hook.id)
    assert e.value.response.status_code == 404


def test_webhooks_belong_to_their_owner(whub: Hub, receiver: Receiver) -> None:
    hook = whub.api("alice").create_webhook(url=receiver.url, watched=[{"type": "user", "name": "alice"}])
    assert hook.id not in [h.id for h in whub.api("bob").list_webhooks()]
    for call in (whub.api("bob").get_webhook, whub.api("bob").disable_webhook, whub.api("bob").delete_webhook):
        with pytest.raises(HfHubHTTPError) as e:
            call(hook.id)
        assert e.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as e:
        whub.api(None).list_webhooks()
    assert e.value.response.status_code == 401


def test_a_commit_is_delivered_signed_after_a_failed_attempt(whub: Hub) -> None:
    receiver = Receiver(fail_first=1)
    try:
        repo_id = f"alice/w{uuid.uuid4().hex[:10]}"
        whub.api("alice").create_repo(repo_id)
        hook_id = _watch_repo(whub, receiver, repo_id)
        info = whub.api("alice").upload_file(path_or_fileobj=b"hello", path_in_repo="hello.txt", repo_id=repo_id)
        first, second = receiver.wait_for(2)
    finally:
        receiver.close()
    assert receiver.answered == [500, 200]
    assert first.body == second.body  # a retry sends the same payload
    for request in (first, second):
        assert request.headers["x-webhook-secret"] == SECRET
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-webhook-signature"] == expected
    payload = WebhookPayload.model_validate(second.json)
    assert (payload.event.action, payload.event.scope) == ("update", "repo.content")
    assert payload.repo.name == repo_id and payload.repo.type == "model" and payload.repo.private is False
    assert payload.webhook.id == hook_id and payload.webhook.version == 3
    (ref,) = payload.updatedRefs or []
    assert ref.ref == "refs/heads/main" and ref.newSha == info.oid and ref.oldSha and ref.oldSha != info.oid
    (log,) = _until(lambda: [d for d in _deliveries(whub, hook_id) if d["status"] == "delivered"])
    assert log["attempts"] == 2 and log["responseStatus"] == 200 and log["event"] == "repo.content:update"


def test_attempts_stop_after_the_last_retry(whub: Hub) -> None:
    receiver = Receiver(fail_first=100)
    try:
        repo_id = f"alice/w{uuid.uuid4().hex[:10]}"
        whub.api("alice").create_repo(repo_id)
        hook_id = _watch_repo(whub, receiver, repo_id)
        whub.api("alice").upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
        (log,) = _until(lambda: [d for d in _deliveries(whub, hook_id) if d["status"] == "failed"], timeout=60)
        assert log["attempts"] == 5 and log["responseStatus"] == 500 and log["error"] == "HTTP 500"
        assert len(receiver.requests) == 5
        created = [r.json["event"] for r in receiver.requests]
        assert created == [{"action": "update", "scope": "repo.content"}] * 5
    finally:
        receiver.close()


def test_repo_lifecycle_events(whub: Hub, receiver: Receiver) -> None:
    api = whub.api("alice")
    name = f"w{uuid.uuid4().hex[:10]}"
    api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": f"alice/{name}"}], domains=["repo"])
    api.create_repo(f"alice/{name}")
    api.update_repo_settings(f"alice/{name}", private=True)
    api.move_repo(f"alice/{name}", f"alice/{name}-moved")
    api.delete_repo(f"alice/{name}-moved")  # watched by its old name only: not heard
    # Deliveries run on the job threads, one job each: like the Hub's, they carry no order promise.
    events = {r.json["event"]["action"]: r.json for r in receiver.wait_for(3)}
    time.sleep(1)
    assert {(action, e["event"]["scope"]) for action, e in events.items()} == {
        ("create", "repo"),
        ("update", "repo.config"),
        ("move", "repo"),
    }
    assert events["update"]["updatedConfig"] == {"private": True} and events["update"]["repo"]["private"] is True
    moved = events["move"]
    assert moved["movedTo"]["name"] == f"alice/{name}-moved" and moved["repo"]["name"] == f"alice/{name}"
    assert len(receiver.requests) == 3


def test_a_move_is_heard_by_watchers_of_the_destination(whub: Hub, receiver: Receiver) -> None:
    api = whub.api("alice")
    name = f"w{uuid.uuid4().hex[:10]}"
    api.create_repo(f"alice/{name}")
    api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": f"acme/{name}"}], domains=["repo"])
    api.move_repo(f"alice/{name}", f"acme/{name}")
    (event,) = [r.json for r in receiver.wait_for(1)]
    assert event["event"] == {"action": "move", "scope": "repo"} and event["movedTo"]["name"] == f"acme/{name}"


def test_a_repo_delete_is_heard_by_owner_watchers(whub: Hub, receiver: Receiver) -> None:
    api = whub.api("alice")
    repo_id = f"acme/w{uuid.uuid4().hex[:10]}"
    api.create_repo(repo_id)
    api.create_webhook(url=receiver.url, watched=[{"type": "org", "name": "acme"}], domains=["repo"])
    api.delete_repo(repo_id)
    (event,) = [r.json for r in receiver.wait_for(1)]
    assert event["event"] == {"action": "delete", "scope": "repo"} and event["repo"]["name"] == repo_id


def test_private_repo_events_reach_only_those_who_may_read_it(whub: Hub) -> None:
    alices, bobs = Receiver(), Receiver()
    try:
        whub.api("alice").create_webhook(url=alices.url, watched=[{"type": "user", "name": "alice"}])
        whub.api("bob").create_webhook(url=bobs.url, watched=[{"type": "user", "name": "alice"}])
        repo_id = f"alice/secret-{uuid.uuid4().hex[:8]}"
        whub.api("alice").create_repo(repo_id, private=True)
        whub.api("alice").upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
        heard = [r.json for r in alices.wait_for(2) if r.json["repo"]["name"] == repo_id]
        assert len(heard) == 2
        time.sleep(1.5)
        assert not [r for r in bobs.requests if repo_id in r.body.decode()]
    finally:
        alices.close()
        bobs.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_internal_targets_are_refused_by_default(sqlite_hub: Hub, url: str) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        sqlite_hub.api("alice").create_webhook(url=url, watched=[{"type": "user", "name": "alice"}])
    assert e.value.response.status_code == 400
    assert "resolves to" in e.value.response.text


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.org/", "http://user:pw@example.org/", "nope"])
def test_only_plain_http_urls_are_accepted(sqlite_hub: Hub, url: str) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        sqlite_hub.api("alice").create_webhook(url=url, watched=[{"type": "user", "name": "alice"}])
    assert e.value.response.status_code == 400


def test_an_admin_may_allow_private_targets_but_never_metadata(whub: Hub, receiver: Receiver) -> None:
    api = whub.api("alice")
    assert api.create_webhook(url=receiver.url, watched=[{"type": "user", "name": "alice"}]).url == receiver.url
    with pytest.raises(HfHubHTTPError) as e:
        api.create_webhook(url="http://169.254.169.254/", watched=[{"type": "user", "name": "alice"}])
    assert "metadata" in e.value.response.text


def test_bad_specs_are_refused(whub: Hub, receiver: Receiver) -> None:
    api = whub.api("alice")
    for watched, domains in (
        ([], None),
        ([{"type": "planet", "name": "x"}], None),
        ([{"type": "user", "name": "a"}], ["nope"]),
    ):
        with pytest.raises(HfHubHTTPError) as e:
            api.create_webhook(url=receiver.url, watched=watched, domains=domains)
        assert e.value.response.status_code in (400, 422)


def test_disabled_webhooks_and_other_domains_hear_nothing(whub: Hub) -> None:
    heard, disabled, discussions = Receiver(), Receiver(), Receiver()
    try:
        api = whub.api("alice")
        name = f"alice/w{uuid.uuid4().hex[:10]}"
        watched = [{"type": "model", "name": name}]
        api.create_webhook(url=heard.url, watched=watched, domains=["repo"])
        api.disable_webhook(api.create_webhook(url=disabled.url, watched=watched).id)
        api.create_webhook(url=discussions.url, watched=watched, domains=["discussion"])
        api.create_repo(name)
        heard.wait_for(1)
        time.sleep(1.5)
        assert disabled.requests == [] and discussions.requests == []
    finally:
        for r in (heard, disabled, discussions):
            r.close()
