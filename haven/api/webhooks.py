"""The Hub's webhook management API (/api/settings/webhooks: HfApi.create_webhook and friends) and Haven's
delivery log. Thin: the rules are in haven.webhooks.service."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from haven.api.deps import ActorDep, HubDep
from haven.api.responses import JSON
from haven.errors import BadRequest
from haven.webhooks import service
from haven.webhooks.service import Spec

router = APIRouter()
BASE = "/api/settings/webhooks"


class WatchedItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=16)
    name: str = Field(max_length=200)


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str | None = Field(None, max_length=2048)
    watched: list[WatchedItem] | None = Field(None, max_length=service.MAX_WATCHED)
    domains: list[str] | None = Field(None, max_length=4)
    secret: str | None = Field(None, max_length=service.MAX_SECRET)
    jobSourceId: str | None = None

    def spec(self) -> Spec:
        if self.jobSourceId is not None:
            raise BadRequest("Webhooks that trigger Jobs are not supported by Haven; give a url")
        watched = [w.model_dump() for w in self.watched] if self.watched is not None else None
        return Spec(url=self.url, watched=watched, domains=self.domains, secret=self.secret)


@router.get(BASE)
def list_webhooks(hub: HubDep, actor: ActorDep) -> JSON:
    """Serves list_webhooks."""
    return JSON(service.list_webhooks(hub, actor))


@router.post(BASE)
def create_webhook(body: WebhookBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves create_webhook."""
    return JSON({"webhook": service.create_webhook(hub, actor, body.spec())})


@router.get(BASE + "/{webhook_id}")
def get_webhook(webhook_id: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves get_webhook."""
    return JSON({"webhook": service.get_webhook(hub, actor, webhook_id)})


@router.post(BASE + "/{webhook_id}")
def update_webhook(webhook_id: str, body: WebhookBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves update_webhook."""
    return JSON({"webhook": service.update_webhook(hub, actor, webhook_id, body.spec())})


@router.post(BASE + "/{webhook_id}/enable")
def enable_webhook(webhook_id: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves enable_webhook."""
    return JSON({"webhook": service.set_disabled(hub, actor, webhook_id, False)})


@router.post(BASE + "/{webhook_id}/disable")
def disable_webhook(webhook_id: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves disable_webhook."""
    return JSON({"webhook": service.set_disabled(hub, actor, webhook_id, True)})


@router.delete(BASE + "/{webhook_id}")
def delete_webhook(webhook_id: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves delete_webhook."""
    service.delete_webhook(hub, actor, webhook_id)
    return JSON({})


@router.get(BASE + "/{webhook_id}/deliveries")
def list_deliveries(webhook_id: str, hub: HubDep, actor: ActorDep, limit: int = Query(50, ge=1, le=500)) -> JSON:
    """The delivery log (Haven's own: the Hub shows it only on its web page): newest first, every attempt
    counted, the last response status or error kept."""
    return JSON(service.list_deliveries(hub, actor, webhook_id, limit))
