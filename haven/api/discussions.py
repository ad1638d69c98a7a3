"""Discussions and pull requests, as huggingface_hub's get_repo_discussions, get_discussion_details,
create_discussion / create_pull_request, comment, edit and hide comments, rename, change status, merge."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from haven.api.common import full_id
from haven.api.deps import ActorDep, HubDep
from haven.api.format import iso
from haven.api.responses import JSON
from haven.auth.permissions import Actor
from haven.discussions import pulls, service
from haven.discussions.service import DiscussionView, EventView
from haven.gating import service as gating
from haven.hub import Hub
from haven.repos.service import RepoRef

router = APIRouter()
BASE = "/api/{repo_type:rtype}/{namespace}/{name}/discussions"


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = Field(max_length=service.MAX_TITLE * 2)
    description: str = Field(default="", max_length=service.MAX_COMMENT)
    pullRequest: bool = False


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    comment: str = Field(max_length=service.MAX_COMMENT)


class EditBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str = Field(max_length=service.MAX_COMMENT)


class TitleBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = Field(max_length=service.MAX_TITLE * 2)


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: str
    comment: str | None = Field(default=None, max_length=service.MAX_COMMENT)


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    comment: str | None = Field(default=None, max_length=service.MAX_COMMENT)


def _author(name: str | None) -> dict[str, Any] | None:
    return {"name": name, "type": "user", "fullname": name} if name else None


def discussion_json(d: DiscussionView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "num": d.num,
        "title": d.title,
        "status": d.status,
        "isPullRequest": d.is_pull_request,
        "createdAt": iso(d.created_at),
        "repo": {"name": d.repo_id, "type": d.repo_type},
    }
    if d.author:
        out["author"] = _author(d.author)
    return out


def event_json(e: EventView) -> dict[str, Any]:
    data: dict[str, Any]
    if e.type == "comment":
        raw = e.content or ""
        data = {
            "edited": e.edited,
            "hidden": e.hidden,
            "latest": {"raw": raw, "html": f"<p>{html.escape(raw)}</p>", "updatedAt": iso(e.updated_at)},
            "history": e.data.get("history", []),
            "numEdits": len(e.data.get("history", [])),
        }
        if e.author:
            data["latest"]["author"] = _author(e.author)
    else:
        data = {k: v for k, v in e.data.items()}
    out: dict[str, Any] = {"id": e.id, "type": e.type, "createdAt": iso(e.created_at), "data": data}
    if e.author:
        out["author"] = _author(e.author)
    return out


@router.get(BASE)
def list_discussions(
    repo_type: str,
    namespace: str,
    name: str,
    hub: HubDep,
    actor: ActorDep,
    p: int = Query(0, ge=0, le=100_000),
    type: str = "all",
    status: str = "all",
    author: str | None = None,
) -> JSON:
    """Serves get_repo_discussions: pages of PAGE_SIZE, newest first."""
    rows, total, start = service.list_discussions(
        hub, actor, repo_type, full_id(namespace, name), page=p, kind=type, status=status, author=author
    )
    return JSON({"discussions": [discussion_json(d) for d in rows], "count": total, "start": start})


@router.post(BASE)
def create(repo_type: str, namespace: str, name: str, body: CreateBody, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves create_discussion and create_pull_request (an empty draft PR on refs/pr/{num})."""
    repo = full_id(namespace, name)
    if body.pullRequest:
        num = pulls.create_pull_request(hub, actor, repo_type, repo, body.title, body.description)
    else:
        num = service.create_discussion(hub, actor, repo_type, repo, body.title, body.description)
    return JSON({"num": num, "url": f"/{repo}/discussions/{num}"})


@router.get(BASE + "/{num:int}")
def details(
    repo_type: str, namespace: str, name: str, num: int, hub: HubDep, actor: ActorDep, diff: str | None = None
) -> JSON:
    """Serves get_discussion_details: the thread, its events, and for pull requests conflicts and diff."""
    d, ref = service.get_discussion(hub, actor, repo_type, full_id(namespace, name), num)
    out = discussion_json(d) | {"events": [event_json(e) for e in d.events]}
    if d.is_pull_request:
        conflicts, patch = pulls.pr_state(
            ref, d.num, d.target_branch, diff in ("1", "true") and _ungated(hub, ref, actor)
        )
        changes: dict[str, Any] = {"base": (d.target_branch or "refs/heads/main").removeprefix("refs/heads/")}
        if d.merge_commit:
            changes["mergeCommitId"] = d.merge_commit
        out |= {"changes": changes, "filesWithConflicts": conflicts if d.status == "open" else []}
        if patch is not None:
            out["diff"] = patch
    return JSON(out)


def _ungated(hub: Hub, ref: RepoRef, actor: Actor) -> bool:
    """Whether the caller may see file contents (a diff shows them): gated repositories need approval."""
    return gating.has_access(hub, ref.row, actor)


@router.post(BASE + "/{num:int}/comment")
def comment(
    repo_type: str, namespace: str, name: str, num: int, body: CommentBody, hub: HubDep, actor: ActorDep
) -> JSON:
    event = service.comment(hub, actor, repo_type, full_id(namespace, name), num, body.comment)
    return JSON({"newMessage": event_json(event)})


@router.post(BASE + "/{num:int}/comment/{comment_id}/edit")
def edit_comment(
    repo_type: str, namespace: str, name: str, num: int, comment_id: str, body: EditBody, hub: HubDep, actor: ActorDep
) -> JSON:
    event = service.edit_comment(hub, actor, repo_type, full_id(namespace, name), num, comment_id, body.content)
    return JSON({"updatedComment": event_json(event)})


@router.post(BASE + "/{num:int}/comment/{comment_id}/hide")
def hide_comment(
    repo_type: str, namespace: str, name: str, num: int, comment_id: str, hub: HubDep, actor: ActorDep
) -> JSON:
    event = service.hide_comment(hub, actor, repo_type, full_id(namespace, name), num, comment_id)
    return JSON({"updatedComment": event_json(event)})


@router.post(BASE + "/{num:int}/title")
def rename(repo_type: str, namespace: str, name: str, num: int, body: TitleBody, hub: HubDep, actor: ActorDep) -> JSON:
    event = service.rename(hub, actor, repo_type, full_id(namespace, name), num, body.title)
    return JSON({"newTitle": event_json(event)})


@router.post(BASE + "/{num:int}/status")
def change_status(
    repo_type: str, namespace: str, name: str, num: int, body: StatusBody, hub: HubDep, actor: ActorDep
) -> JSON:
    repo = full_id(namespace, name)
    event = service.change_status(hub, actor, repo_type, repo, num, body.status, body.comment)
    return JSON({"newStatus": event_json(event)})


@router.post(BASE + "/{num:int}/merge")
def merge(
    repo_type: str,
    namespace: str,
    name: str,
    num: int,
    hub: HubDep,
    actor: ActorDep,
    body: MergeBody | None = None,
) -> JSON:
    comment = body.comment if body else None
    oid = pulls.merge_pull_request(hub, actor, repo_type, full_id(namespace, name), num, comment)
    return JSON({"mergeCommitId": oid})
