"""The address of the request being served, for the audit log: set once per request by the API layer, read
by services that record events (which never see the request). Unset outside requests (the CLI)."""

from __future__ import annotations

from contextvars import ContextVar

client_ip: ContextVar[str | None] = ContextVar("haven_client_ip", default=None)
