"""The repository page (card, metadata, snippets, like, revision switcher), its settings, and /new."""

from __future__ import annotations

from itertools import islice
from typing import Any

import orjson
from starlette.responses import Response

from haven.api.inference import run_widget
from haven.auth.permissions import Permission, can, can_create_in
from haven.errors import BadRequest, NotFound
from haven.git.store import Entry, GitRepo
from haven.inference.tasks import InferenceError
from haven.metadata import service as metadata
from haven.mirror import service as mirror
from haven.repos import service
from haven.repos.content import safetensors_header
from haven.repos.models import Like
from haven.repos.service import RepoRef, find_repo
from haven.scanning import service as scanning
from haven.web import gating
from haven.web.core import Web, WebDep, checked_form, field_str, in_thread, redirect, render, repo_routes, web_router
from haven.web.render import card_html

router = web_router()
MAX_CARD = 1_000_000
MAX_SCAN = 5000  # tree entries looked at for safetensors files
MAX_SAFETENSORS = 50


def open_repo(web: Web, repo_type: str, namespace: str, name: str, perm: Permission = Permission.READ) -> RepoRef:
    """The repository if the visitor may see it (a 404 page otherwise, the same for missing and private)."""
    mirror.ensure(web.hub, web.actor, repo_type, f"{namespace}/{name}")
    with web.hub.db.read() as session:
        return find_repo(web.hub, session, web.actor, repo_type, f"{namespace}/{name}", perm)


def revisions(git: GitRepo) -> tuple[list[str], list[str]]:
    refs = git.refs()
    branches = sorted(n.removeprefix("refs/heads/") for n in refs if n.startswith("refs/heads/"))
    tags = sorted(n.removeprefix("refs/tags/") for n in refs if n.startswith("refs/tags/"))
    return branches, tags


def repo_context(web: Web, ref: RepoRef, tab: str, rev: str = "main") -> dict[str, Any]:
    """What the repository header needs on every tab."""
    row = ref.row
    branches, tags = revisions(ref.git)
    mirror_of = mirror.upstream_of(web.hub, row.id)
    with web.hub.db.read() as session:
        liked = not web.actor.anonymous and session.get(Like, (web.actor.user_id, row.id)) is not None
    return {
        "repo": row,
        "repo_type": row.type,
        "tab": tab,
        "rev": rev,
        "branches": branches,
        "tags": tags,
        "liked": liked,
        # A mirror changes only by fetching: no edit or upload buttons, even for admins.
        "can_write": can(web.actor, Permission.WRITE, row) and not mirror_of,
        "can_admin": can(web.actor, Permission.ADMIN, row),
        "security": scanning.repo_status(web.hub, row.id, row.head_sha),
        "mirror_of": mirror_of,
    }


def read_card(git: GitRepo, commit: str) -> str | None:
    entry = git.entry(commit, "README.md")
    if entry is None or entry.type != "file" or entry.pointer is not None or entry.size > MAX_CARD:
        return None
    return git.read_blob(entry.oid).decode("utf-8", "replace")


def parameter_count(web: Web, ref: RepoRef, commit: str | None) -> int | None:
    """Total parameters: from the safetensors metadata the metadata service stores when it has, else
    summed from the headers of (up to MAX_SAFETENSORS) .safetensors files at `commit`."""
    if commit is None or ref.row.type != "model":
        return None
    stored = metadata.stored(web.hub, ref.row.id)
    if stored is not None and stored.commit == commit and isinstance(stored.safetensors, dict):
        total = stored.safetensors.get("total")
        if isinstance(total, int):
            return total
    files = [e for e in islice(ref.git.list_tree(commit, "", True), MAX_SCAN) if e.path.endswith(".safetensors")]
    counts = [_file_parameters(web, ref, entry) for entry in files[:MAX_SAFETENSORS]]
    found = [c for c in counts if c is not None]
    return sum(found) if found else None


_parameters: dict[str, int | None] = {}  # blob id -> parameters: a file's content never changes under its id


def _file_parameters(web: Web, ref: RepoRef, entry: Entry) -> int | None:
    if entry.oid not in _parameters:
        header = safetensors_header(web.hub, ref.git, entry)
        if len(_parameters) > 100_000:
            _parameters.clear()
        _parameters[entry.oid] = header.parameters if header is not None else None
    return _parameters[entry.oid]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def snippets(web: Web, repo_type: str, full_id: str) -> list[tuple[str, str]]:
    base = web.base
    clone = f"git clone {base}/{service.web_path(repo_type, full_id)}"
    hub_kw = "" if repo_type == "model" else f', repo_type="{repo_type}"'
    env = f'import os\nos.environ["HF_ENDPOINT"] = "{base}"  # before importing the libraries\n'
    out = []
    if repo_type == "model":
        out.append(
            (
                "transformers",
                f'{env}from transformers import AutoModel\n\nmodel = AutoModel.from_pretrained("{full_id}")',
            )
        )
    if repo_type == "dataset":
        out.append(("datasets", f'{env}from datasets import load_dataset\n\nds = load_dataset("{full_id}")'))
    out.append(
        (
            "huggingface_hub",
            f'{env}from huggingface_hub import snapshot_download\n\npath = snapshot_download("{full_id}"{hub_kw})',
        )
    )
    out.append(("git", f"{clone}\n# large files: install git-lfs first (git lfs install)"))
    return out


@repo_routes(router, "/{namespace}/{name}", ["GET"])
def repo_page(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """The repository's home: its card, metadata sidebar and how to use it."""
    ref = open_repo(web, repo_type, namespace, name)
    row = ref.row
    commit = ref.git.resolve("main") or row.head_sha
    text = read_card(ref.git, commit) if commit else None
    card = row.card_data or {}
    meta = {
        "license": _as_list(card.get("license")),
        "base_model": _as_list(card.get("base_model")),
        "datasets": _as_list(card.get("datasets")),
        "languages": _as_list(card.get("language")),
        "parameters": parameter_count(web, ref, commit),
    }
    return render(
        web,
        "repo.html",
        **repo_context(web, ref, "card"),
        card_html=card_html(text) if text else None,
        card_error=row.card_error,
        meta=meta,
        snippets=snippets(web, repo_type, row.full_id),
        widget_text=widget_example(card) if repo_type == "model" else None,
        gate=gating.banner(web, ref),
    )


def widget_example(card: dict[str, Any]) -> str:
    """The card's first `widget` example text (what the Hub's widget offers first), else empty."""
    examples = card.get("widget")
    if isinstance(examples, list):
        for example in examples:
            if isinstance(example, dict) and isinstance(example.get("text"), str):
                return example["text"][:2000]
    return ""


@repo_routes(router, "/{namespace}/{name}/like", ["POST"])
async def like(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """Like or unlike (`liked=0`); answers the new state to scripts, a redirect to forms."""
    form = await checked_form(web)
    web.require_login()
    liked = field_str(form, "liked", "1") != "0"
    full_id = f"{namespace}/{name}"
    await in_thread(service.set_like, web.hub, web.actor, repo_type, full_id, liked)
    if web.request.headers.get("x-requested-with") == "haven":
        ref = await in_thread(open_repo, web, repo_type, namespace, name)
        return Response(f'{{"liked": {str(liked).lower()}, "likes": {ref.row.likes}}}', media_type="application/json")
    return redirect(web, "/" + service.web_path(repo_type, full_id))


@repo_routes(router, "/{namespace}/{name}/widget", ["POST"])
async def widget(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """Try the model: the widget's text through the Inference API's workers, as the signed-in visitor. Scripts
    get JSON ({"task", "output"} or {"error"}); a plain form post gets a page with the answer."""
    form = await checked_form(web)
    if repo_type != "model":
        raise NotFound("Only models run in the widget")
    text = field_str(form, "inputs", "")
    full_id = f"{namespace}/{name}"
    scripted = web.request.headers.get("x-requested-with") == "haven"
    try:
        answer = await run_widget(web.request, web.actor, full_id, text)
    except InferenceError as e:
        if not scripted:
            raise
        return Response(orjson.dumps({"error": str(e)}), status_code=e.status, media_type="application/json")
    if scripted:
        return Response(orjson.dumps(answer), media_type="application/json")
    ref = await in_thread(open_repo, web, repo_type, namespace, name)
    shown = orjson.dumps(answer["output"], option=orjson.OPT_INDENT_2).decode()
    return render(
        web, "widget_result.html", **repo_context(web, ref, "card"), inputs=text, task=answer["task"], output=shown
    )


@repo_routes(router, "/{namespace}/{name}/settings", ["GET"])
def settings_page(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    web.require_login()
    ref = open_repo(web, repo_type, namespace, name, Permission.ADMIN)
    return render(
        web,
        "repo_settings.html",
        **repo_context(web, ref, "settings"),
        message=None,
        access_requests=gating.requests_section(web, ref),
    )


@repo_routes(router, "/{namespace}/{name}/settings", ["POST"])
async def settings_post(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """Visibility, rename/move, delete (the full name typed as confirmation)."""
    form = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    action = field_str(form, "action")
    hub, actor = web.hub, web.actor
    if action == "visibility":
        private = field_str(form, "visibility") == "private"
        await in_thread(service.update_settings, hub, actor, repo_type, full_id, private=private, gated=None)
        return redirect(web, "/" + service.web_path(repo_type, full_id) + "/settings")
    if action == "move":
        new_id = field_str(form, "new_id").strip()
        await in_thread(service.move_repo, hub, actor, repo_type, full_id, new_id)
        return redirect(web, "/" + service.web_path(repo_type, new_id))
    if action == "delete":
        if field_str(form, "confirm").strip() != full_id:
            raise BadRequest(f"Type {full_id} to confirm the deletion")
        await in_thread(service.delete_repo, hub, actor, repo_type, full_id)
        return redirect(web, f"/{namespace}")
    raise BadRequest("Unknown action")


@router.get("/new")
def new_repo_page(web: WebDep) -> Response:
    actor = web.require_login()
    owners = [actor.name, *(n for oid, n in actor.org_names.items() if can_create_in(actor, oid))]
    return render(web, "new_repo.html", owners=owners)


@router.post("/new")
async def new_repo(web: WebDep) -> Response:
    form = await checked_form(web)
    web.require_login()
    repo_type = field_str(form, "type", "model")
    namespace = field_str(form, "owner") or web.user
    name = field_str(form, "name").strip()
    row = await in_thread(
        service.create_repo,
        web.hub,
        web.actor,
        repo_type=repo_type,
        namespace=namespace,
        name=name,
        private=field_str(form, "visibility") == "private",
    )
    return redirect(web, "/" + service.web_path(row.type, row.full_id))
