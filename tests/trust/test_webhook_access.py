"""Access is checked again before every delivery attempt: a watcher who lost read access since the event
was queued gets no retry of it (the delivery is skipped, and the log says why)."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.conftest import Hub
from tests.trust.conftest import Receiver


def test_a_retry_is_not_sent_once_the_repo_turned_private(whub: Hub) -> None:
    repo_id = f"acme/w{uuid.uuid4().hex[:10]}"
    whub.api("alice").create_repo(repo_id)
    # bob, a stranger to acme, watches it; his receiver fails the first attempt, and just before it answers,
    # alice makes the repository private
    receiver = Receiver(fail_first=10, on_first=lambda: whub.api("alice").update_repo_settings(repo_id, private=True))
    try:
        hook = whub.api("bob").create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo_id}])
        whub.api("alice").upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
        (first,) = receiver.wait_for(1)
        assert first.json["repo"]["private"] is False  # the commit was public when it happened
        headers = {"authorization": f"Bearer {whub.tokens['bob']}"}
        deadline = time.monotonic() + 30
        while True:
            log = httpx.get(f"{whub.url}/api/settings/webhooks/{hook.id}/deliveries", headers=headers).json()
            if (log and log[0]["status"] == "skipped") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert log[0]["status"] == "skipped" and "no longer read" in log[0]["error"], log
        assert log[0]["attempts"] == 2 and len(receiver.requests) == 1  # the retry was never sent
    finally:
        receiver.close()
