"""The Community tab: discussions and pull requests as pages (list, thread, a PR's files), and the forms
that open threads, comment, close or reopen, and merge. Every rule is the discussions service's."""

from __future__ import annotations

from starlette.responses import Response

from haven.api.common import check_gate
from haven.discussions import pulls, service
from haven.discussions.models import MERGED, OPEN
from haven.discussions.service import DiscussionView
from haven.errors import BadRequest
from haven.git import merge as git_merge
from haven.git.diff import diff_commits
from haven.repos.service import RepoRef
from haven.web.core import Web, checked_form, field_str, in_thread, redirect, render, repo_routes, repo_url, web_router
from haven.web.render import markdown_html
from haven.web.repo import open_repo, repo_context

router = web_router()
STATUS_TABS = ("open", "closed", "all")


def _thread_url(repo_type: str, full_id: str, num: int) -> str:
    return repo_url(repo_type, full_id, "discussions", str(num))


def _page(web: Web) -> int:
    raw = web.request.query_params.get("p", "0")
    return max(int(raw), 0) if raw.isdigit() else 0


@repo_routes(router, "/{namespace}/{name}/discussions", ["GET"])
def discussions(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """Threads of the repository, newest first, filtered by status (open by default) and kind."""
    ref = open_repo(web, repo_type, namespace, name)
    params = web.request.query_params
    status = params.get("status", "open") if params.get("status") in STATUS_TABS else "open"
    kind = params.get("type", "all") if params.get("type") in service.KINDS else "all"
    page = _page(web)
    rows, total, _ = service.list_discussions(
        web.hub, web.actor, repo_type, ref.full_id, page=page, kind=kind, status=status
    )
    more = (page + 1) * service.PAGE_SIZE < total
    ctx = repo_context(web, ref, "community")
    return render(web, "discussions.html", **ctx, rows=rows, total=total, state=status, kind=kind, page=page, more=more)


@repo_routes(router, "/{namespace}/{name}/discussions", ["POST"])
async def new_discussion(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """The new-discussion form: a title and a first comment."""
    form = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    title, text = field_str(form, "title"), field_str(form, "description")
    num = await in_thread(service.create_discussion, web.hub, web.actor, repo_type, full_id, title, text)
    return redirect(web, _thread_url(repo_type, full_id, num))


@repo_routes(router, "/{namespace}/{name}/discussions/{num:int}", ["GET"])
def thread(web: Web, repo_type: str, namespace: str, name: str, num: int) -> Response:
    """One thread: its events in order, the comment form, and for pull requests their state and buttons."""
    d, ref = service.get_discussion(web.hub, web.actor, repo_type, f"{namespace}/{name}", num)
    conflicts: list[str] = []
    if d.is_pull_request and d.status == OPEN:
        conflicts, _ = pulls.pr_state(ref, d.num, d.target_branch, with_diff=False)
    ctx = repo_context(web, ref, "community")
    moderate = ctx["can_write"] or (web.user is not None and web.user == d.author)
    return render(
        web,
        "discussion.html",
        **ctx,
        d=d,
        comments={e.id: markdown_html(e.content or "") for e in d.events if e.type == "comment" and not e.hidden},
        conflicts=conflicts,
        can_moderate=moderate,
        target=(d.target_branch or "refs/heads/main").removeprefix("refs/heads/"),
    )


@repo_routes(router, "/{namespace}/{name}/discussions/{num:int}/files", ["GET"])
def pr_files(web: Web, repo_type: str, namespace: str, name: str, num: int) -> Response:
    """What a pull request changes, against the point where it left its target branch."""
    d, ref = service.get_discussion(web.hub, web.actor, repo_type, f"{namespace}/{name}", num)
    if not d.is_pull_request:
        raise BadRequest(f"#{num} is a discussion: it has no files")
    check_gate(web.hub, ref, web.actor)  # diffs show file contents
    head = ref.git.ref(pulls.pr_ref(num))
    files, cut = diff_commits(ref.git, _fork_point(ref, d, head), head) if head else ([], False)
    ctx = repo_context(web, ref, "community")
    return render(web, "pr_files.html", **ctx, d=d, files=files, cut=cut)


def _fork_point(ref: RepoRef, d: DiscussionView, head: str) -> str | None:
    """Where the pull request left its target: the merge base while it is open; once merged (the target
    then contains it) the parent of its first commit."""
    if d.status != MERGED:
        target = ref.git.ref(d.target_branch or "refs/heads/main")
        return git_merge.merge_base(ref.git, target, head) if target else None
    first = next((e.data.get("oid") for e in d.events if e.type == "commit"), None)
    parents = ref.git.commit_info(first).parents if isinstance(first, str) else ()
    return parents[0] if parents else None


@repo_routes(router, "/{namespace}/{name}/discussions/{num:int}/comment", ["POST"])
async def comment(web: Web, repo_type: str, namespace: str, name: str, num: int) -> Response:
    form = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    await in_thread(service.comment, web.hub, web.actor, repo_type, full_id, num, field_str(form, "comment"))
    return redirect(web, _thread_url(repo_type, full_id, num) + "#new-comment")


@repo_routes(router, "/{namespace}/{name}/discussions/{num:int}/hide", ["POST"])
async def hide_comment(web: Web, repo_type: str, namespace: str, name: str, num: int) -> Response:
    """Writers hide a comment for good (its text is erased)."""
    form = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    event_id = field_str(form, "comment_id")
    await in_thread(service.hide_comment, web.hub, web.actor, repo_type, full_id, num, event_id)
    return redirect(web, _thread_url(repo_type, full_id, num) + f"#e-{event_id}")


@repo_routes(router, "/{namespace}/{name}/discussions/{num:int}/status", ["POST"])
async def change_status(web: Web, repo_type: str, namespace: str, name: str, num: int) -> Response:
    """Close or reopen, with the comment box's text when there is some."""
    form = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    status, text = field_str(form, "status"), field_str(form, "comment") or None
    await in_thread(service.change_status, web.hub, web.actor, repo_type, full_id, num, status, text)
    return redirect(web, _thread_url(repo_type, full_id, num))


@repo_routes(router, "/{namespace}/{name}/discussions/{num:int}/merge", ["POST"])
async def merge(web: Web, repo_type: str, namespace: str, name: str, num: int) -> Response:
    form = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    text = field_str(form, "comment") or None
    await in_thread(pulls.merge_pull_request, web.hub, web.actor, repo_type, full_id, num, text)
    return redirect(web, _thread_url(repo_type, full_id, num))
