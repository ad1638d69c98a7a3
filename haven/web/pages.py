"""Home, the listings (/models, /datasets, /spaces) and user/organisation profiles."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response

from haven.auth.models import ORG, Account, Membership
from haven.errors import NotFound
from haven.repos.listing import Query, list_repos, visible
from haven.repos.models import Like, Repo
from haven.web.core import WebDep, render, web_router
from haven.web.facets import facet_counts, facet_tag, type_counts

router = web_router()
PAGE = 30
SORTS = {
    "trending": "trendingScore",
    "downloads": "downloads",
    "likes": "likes",
    "updated": "lastModified",
    "created": "createdAt",
}
FACETS = ("task", "library", "language", "license", "dataset", "author")
TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


@router.get("/")
def home(web: WebDep) -> Response:
    """Search box, counts, trending and recently updated repositories."""
    with web.hub.db.read() as session:
        counts = type_counts(session, web.actor)
        sections = {}
        for repo_type in ("model", "dataset"):
            for sort in ("trendingScore", "lastModified"):
                q = Query(repo_type=repo_type, sort=sort, limit=6)
                sections[(repo_type, sort)] = list_repos(session, web.actor, q)[0]
    return render(web, "home.html", counts=counts, sections=sections)


def _listing(web: WebDep, plural: str) -> Response:
    repo_type = TYPES[plural]
    p = web.request.query_params
    params = {key: p.get(key, "") for key in (*FACETS, "tag", "search", "sort")}
    tags = [t for key in (*FACETS, "tag") if params[key] and (t := facet_tag(repo_type, key, params[key]))]
    sort = params["sort"] if params["sort"] in SORTS else "trending"
    q = Query(
        repo_type=repo_type,
        search=[params["search"]] if params["search"] else [],
        author=params["author"] or None,
        tags=tags,
        sort=SORTS[sort],
        limit=PAGE,
        cursor=p.get("cursor") or None,
    )
    with web.hub.db.read() as session:
        rows, cursor = list_repos(session, web.actor, q)
        facets, exact = facet_counts(session, web.actor, q, reopen=web.hub.db.read)
    return render(
        web,
        "listing.html",
        plural=plural,
        repo_type=repo_type,
        rows=rows,
        cursor=cursor,
        first_page=not p.get("cursor"),
        params={k: v for k, v in params.items() if v},
        sort=sort,
        sorts=list(SORTS),
        facets=facets,
        facets_exact=exact,
        facet_names=FACETS,
    )


@router.get("/models")
def models(web: WebDep) -> Response:
    return _listing(web, "models")


@router.get("/datasets")
def datasets(web: WebDep) -> Response:
    return _listing(web, "datasets")


@router.get("/spaces")
def spaces(web: WebDep) -> Response:
    return _listing(web, "spaces")


def profile(web: WebDep, account: str) -> Response:
    """A user's or an organisation's page: their repositories, a user's likes, an organisation's members."""
    with web.hub.db.read() as session:
        owner = session.scalar(select(Account).where(Account.name == account))
        if owner is None:
            raise NotFound("No such account")
        repos = {
            t: list_repos(session, web.actor, Query(repo_type=t, author=account, sort="lastModified", limit=100))[0]
            for t in ("model", "dataset", "space")
        }
        liked: list[Repo] = []
        members: list[tuple[str, str]] = []
        if owner.kind == ORG:
            members = [
                (r.name, r.role)
                for r in session.execute(
                    select(Account.name, Membership.role)
                    .join(Membership, Membership.user_id == Account.id)
                    .where(Membership.org_id == owner.id)
                    .order_by(Account.name)
                )
            ]
        else:
            liked = list(
                session.scalars(
                    select(Repo)
                    .join(Like, Like.repo_id == Repo.id)
                    .where(Like.user_id == owner.id, visible(web.actor))
                    .order_by(Like.created_at.desc())
                    .limit(100)
                )
            )
    is_admin = owner.kind == ORG and (web.actor.is_admin or web.actor.org_roles.get(owner.id) == "admin")
    return render(web, "profile.html", owner=owner, repos=repos, liked=liked, members=members, org_admin=is_admin)
