"""Gated repositories' access requests, as huggingface_hub's list_*_access_requests, accept/reject/cancel_access_request
and grant_access call them; plus asking for access with a token (the Hub takes that form only on its web pages)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from haven.api.common import full_id
from haven.api.deps import ActorDep, HubDep
from haven.api.responses import JSON
from haven.gating import service

router = APIRouter()
BASE = "/api/{repo_type:rtype}/{namespace}/{name}"


class HandleBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user: str | None = Field(default=None, max_length=96)
    requestId: str | None = Field(default=None, max_length=24)
    status: str = Field(max_length=16)
    rejectionReason: str | None = Field(default=None, max_length=1000)


class GrantBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user: str = Field(max_length=96)


class AskBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    fields: dict[str, Any] = Field(default_factory=dict, max_length=100)


@router.get(BASE + "/user-access-request/{status}")
def list_requests(repo_type: str, namespace: str, name: str, status: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves list_pending/accepted/rejected_access_requests (repository admins only)."""
    return JSON(service.list_requests(hub, actor, repo_type, full_id(namespace, name), status))


@router.post(BASE + "/user-access-request/handle")
def handle(repo_type: str, namespace: str, name: str, body: HandleBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves accept_access_request, reject_access_request and cancel_access_request."""
    service.handle(
        hub,
        actor,
        repo_type,
        full_id(namespace, name),
        user=body.user,
        request_id=body.requestId,
        status=body.status,
        reason=body.rejectionReason,
    )
    return JSON({})


@router.post(BASE + "/user-access-request/grant")
def grant(repo_type: str, namespace: str, name: str, body: GrantBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves grant_access."""
    service.grant(hub, actor, repo_type, full_id(namespace, name), body.user)
    return JSON({})


@router.post(BASE + "/ask-access")
def ask_access(repo_type: str, namespace: str, name: str, body: AskBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Ask for access with the card's form answered in `fields`; the answer says whether it was accepted."""
    return JSON({"status": service.request_access(hub, actor, repo_type, full_id(namespace, name), body.fields)})
