"""The SSRF guard in-process: which addresses a webhook may reach, and delivery to the checked address
only (a host whose DNS answer changes after the check cannot steer the request elsewhere)."""

from __future__ import annotations

import ipaddress
import socket
from types import SimpleNamespace
from typing import Any

import pytest

from haven.errors import BadRequest
from haven.webhooks import guard
from haven.webhooks.delivery import send
from tests.trust.conftest import Receiver


@pytest.mark.parametrize(
    ("address", "allowed_by_default", "allowed_with_setting"),
    [
        ("93.184.216.34", True, True),
        ("2606:4700::6810:84e5", True, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("10.1.2.3", False, True),
        ("192.168.0.10", False, True),
        ("172.16.5.4", False, True),
        ("100.64.0.1", False, True),  # carrier-grade NAT
        ("fe80::1", False, True),
        ("169.254.169.254", False, False),  # AWS/GCP/Azure metadata
        ("fd00:ec2::254", False, False),
        ("100.100.100.200", False, False),  # Alibaba metadata
        ("0.0.0.0", False, False),
        ("224.0.0.1", False, False),
    ],
)
def test_which_addresses_may_be_reached(address: str, allowed_by_default: bool, allowed_with_setting: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert (guard.refusal(ip, allow_private=False) is None) is allowed_by_default
    assert (guard.refusal(ip, allow_private=True) is None) is allowed_with_setting


def _resolving(monkeypatch: pytest.MonkeyPatch, answers: dict[str, str]) -> None:
    real = socket.getaddrinfo

    def fake(host: str, port: Any, *args: Any, **kw: Any) -> Any:
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kw)

    monkeypatch.setattr(guard.socket, "getaddrinfo", fake)


def test_a_public_name_that_resolves_inside_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving(monkeypatch, {"innocent.example": "10.0.0.7"})
    with pytest.raises(guard.Refused, match="private"):
        guard.check_target("https://innocent.example/hook", allow_private=False)


def test_mapped_ipv6_literals_are_judged_as_their_ipv4(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(guard.Refused, match="loopback"):
        guard.check_target("http://[::ffff:127.0.0.1]:8080/", allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.org/", "http:///nohost", "http://u:p@example.org/", "x" * 3000])
def test_malformed_urls(url: str) -> None:
    with pytest.raises(BadRequest):
        guard.check_url(url)


def test_delivery_connects_to_the_address_that_was_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """`rebind.test` resolves (for the guard only) to the receiver; httpx could not resolve it at all, so the
    request arriving proves it went to the checked address, with the name kept in the Host header."""
    receiver = Receiver()
    try:
        _resolving(monkeypatch, {"rebind.test": "127.0.0.1"})
        port = receiver.server.server_address[1]
        hub = SimpleNamespace(settings=SimpleNamespace(webhooks_allow_private=True, webhooks_timeout=5.0))
        outcome = send(hub, f"http://rebind.test:{port}/hook", "k", b"{}", 7)  # type: ignore[arg-type]
        assert outcome.ok, outcome
        (request,) = receiver.requests
        assert request.headers["host"] == f"rebind.test:{port}" and request.headers["x-haven-delivery"] == "7"
    finally:
        receiver.close()


def test_a_refused_target_fails_at_once_without_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving(monkeypatch, {"rebind.test": "169.254.169.254"})
    hub = SimpleNamespace(settings=SimpleNamespace(webhooks_allow_private=True, webhooks_timeout=5.0))
    outcome = send(hub, "http://rebind.test/hook", None, b"{}", 1)  # type: ignore[arg-type]
    assert not outcome.ok and outcome.final and "metadata" in (outcome.error or "")
