"""History: the commit list of a revision, one commit with its diff, and the comparison of two revisions."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from haven.api.common import check_gate, resolve_rev
from haven.errors import BadRequest
from haven.git.diff import diff_commits
from haven.web.core import Web, redirect, render, repo_routes, repo_url, web_router
from haven.web.repo import open_repo, repo_context

router = web_router()
PAGE = 30


@repo_routes(router, "/{namespace}/{name}/commits/{rev:seg}", ["GET"])
def commits(web: Web, repo_type: str, namespace: str, name: str, rev: str) -> Response:
    """Commits reachable from a revision, newest first, PAGE at a time."""
    ref = open_repo(web, repo_type, namespace, name)
    commit = resolve_rev(ref, rev)
    try:
        page = max(int(web.request.query_params.get("p", "0")), 0)
    except ValueError:
        page = 0
    items = ref.git.log(commit, skip=page * PAGE, limit=PAGE + 1)
    return render(
        web,
        "commits.html",
        **repo_context(web, ref, "history", rev),
        commits=items[:PAGE],
        page=page,
        more=len(items) > PAGE,
    )


@repo_routes(router, "/{namespace}/{name}/commit/{sha:seg}", ["GET"])
def commit(web: Web, repo_type: str, namespace: str, name: str, sha: str) -> Response:
    """One commit: its message, author and date, and what it changed against its first parent."""
    ref = open_repo(web, repo_type, namespace, name)
    commit_id = resolve_rev(ref, sha)
    info = ref.git.commit_info(commit_id)
    parent = info.parents[0] if info.parents else None
    check_gate(web.hub, ref, web.actor)  # diffs show file contents
    files, cut = diff_commits(ref.git, parent, commit_id)
    return render(web, "commit.html", **repo_context(web, ref, "history", commit_id), info=info, files=files, cut=cut)


@repo_routes(router, "/{namespace}/{name}/compare", ["GET"])
def compare_form(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """The compare form's target: /compare?base=A&head=B becomes /compare/A...B."""
    ref = open_repo(web, repo_type, namespace, name)
    p = web.request.query_params
    base, head = p.get("base", ""), p.get("head", "")
    if not base or not head:
        return render(web, "compare.html", **repo_context(web, ref, "history"), files=None, base=base, head=head)
    spec = f"{quote(base, safe='')}...{quote(head, safe='')}"
    return redirect(web, repo_url(repo_type, ref.full_id) + f"/compare/{spec}")


@repo_routes(router, "/{namespace}/{name}/compare/{spec:seg}", ["GET"])
def compare(web: Web, repo_type: str, namespace: str, name: str, spec: str) -> Response:
    """What changed from one revision to another (`base...head`)."""
    ref = open_repo(web, repo_type, namespace, name)
    base, sep, head = spec.partition("...")
    if not sep or not base or not head:
        raise BadRequest("Compare two revisions as base...head")
    check_gate(web.hub, ref, web.actor)
    files, cut = diff_commits(ref.git, resolve_rev(ref, base), resolve_rev(ref, head))
    return render(web, "compare.html", **repo_context(web, ref, "history"), files=files, cut=cut, base=base, head=head)
