"""Sending one delivery: POST the payload with the Hub's `X-Webhook-Secret` header (and an HMAC-SHA256 of
the body in `X-Webhook-Signature`, so receivers can check integrity without trusting the transport), then
log the outcome. A failure schedules the next attempt after retry_seconds * 2^(attempt-1); a target the
SSRF guard refuses, or the last attempt, fails the delivery for good."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from haven.db import utcnow
from haven.hub import Hub
from haven.webhooks import events, tasks
from haven.webhooks.guard import Address, Refused, check_target
from haven.webhooks.models import DELIVERED, FAILED, RETRYING, SKIPPED, Webhook, WebhookDelivery

USER_AGENT = "Haven-Webhooks/1"
MAX_ERROR = 1000


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str | None = None
    final: bool = False  # no point trying again


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(hub: Hub, delivery_id: int) -> None:
    """Make the next attempt of a delivery and record it."""
    with hub.db.read() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        hook = session.get(Webhook, delivery.webhook_id) if delivery is not None else None
        if delivery is None or delivery.status in (DELIVERED, FAILED, SKIPPED):
            return
        target = None if hook is None or hook.disabled else (hook.url, hook.secret)
        allowed = hook is not None and events.still_readable(session, hook, delivery.payload)
        body = orjson.dumps(delivery.payload)
    if target is None:
        _record(hub, delivery_id, Outcome(False, error="the webhook was disabled or deleted", final=True), SKIPPED)
        return
    if not allowed:
        _record(
            hub,
            delivery_id,
            Outcome(False, error="the webhook's owner can no longer read this repository", final=True),
            SKIPPED,
        )
        return
    _record(hub, delivery_id, send(hub, target[0], target[1], body, delivery_id))


def send(hub: Hub, url: str, secret: str | None, body: bytes, delivery_id: int) -> Outcome:
    """POST to an address the guard checked just now, connecting to that very address (the URL's host goes
    in the Host header and TLS SNI), so a DNS answer that changes after the check cannot redirect us."""
    settings = hub.settings
    try:
        addresses = check_target(url, settings.webhooks_allow_private)
    except Refused as e:
        return Outcome(False, error=e.message, final=True)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Haven-Delivery": str(delivery_id)}
    if secret:
        headers["X-Webhook-Secret"] = secret
        headers["X-Webhook-Signature"] = signature(secret, body)
    error = "no address to connect to"
    for address in addresses:
        try:
            status = _post(settings.webhooks_timeout, url, address, body, headers)
        except httpx.ConnectError as e:  # this address does not answer: try the host's next one
            error = f"ConnectError: {e}"
            continue
        except httpx.HTTPError as e:
            return Outcome(False, error=f"{type(e).__name__}: {e}"[:MAX_ERROR])
        break
    else:
        return Outcome(False, error=error[:MAX_ERROR])
    if 200 <= status < 300:
        return Outcome(True, status=status)
    return Outcome(False, status=status, error=f"HTTP {status}")


def _post(timeout: float, url: str, address: Address, body: bytes, headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    pinned = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"))
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    with (
        httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        client.stream(
            "POST", pinned, content=body, headers={**headers, "Host": parts.netloc}, extensions=extensions
        ) as response,
    ):
        return response.status_code  # the body is never read: a receiver cannot flood the worker


def _record(hub: Hub, delivery_id: int, outcome: Outcome, failed_status: str = FAILED) -> None:
    now = utcnow()
    settings = hub.settings
    with hub.db.write() as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            return
        row.attempts += 1
        row.last_attempt_at, row.response_status = now, outcome.status
        row.error = outcome.error[:MAX_ERROR] if outcome.error else None
        row.next_attempt_at = None
        if outcome.ok:
            row.status, row.delivered_at = DELIVERED, now
        elif outcome.final or row.attempts >= settings.webhooks_max_attempts:
            row.status = failed_status
        else:
            delay = timedelta(seconds=settings.webhooks_retry_seconds * 2 ** (row.attempts - 1))
            row.status, row.next_attempt_at = RETRYING, now + delay
            tasks.enqueue(session, row.id, attempt=row.attempts + 1, run_after=now + delay)
