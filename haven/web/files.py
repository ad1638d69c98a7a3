"""The Files tab: trees and files at any revision, uploads and in-browser edits (through the commit service)."""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from haven.api.common import check_gate, resolve_rev
from haven.auth.permissions import Permission
from haven.errors import BadRequest, EntryNotFound
from haven.git.diff import last_commits
from haven.git.store import Entry
from haven.hub import Hub
from haven.names import check_path
from haven.repos import lfs
from haven.repos.commits import AddFile, AddLfsFile, CommitRequest, Operation, create_commit
from haven.repos.content import read_prefix, safetensors_header
from haven.scanning import service as scanning
from haven.web.core import Web, checked_form, field_str, in_thread, redirect, render, repo_routes, rev_url, web_router
from haven.web.render import card_html, code_html
from haven.web.repo import open_repo, repo_context

router = web_router()
MAX_TEXT = 1_000_000  # larger files are offered for download only
MAX_LAST_COMMITS = 100  # entries whose last commit is looked up
CHUNK = 1 << 20
IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".avif"}


def _is_text(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _entries(web: Web, ref: Any, commit: str, path: str) -> list[dict[str, Any]]:
    entries = sorted(ref.git.list_tree(commit, path), key=lambda e: (e.type != "directory", e.path.lower()))
    names = [e.path.rsplit("/", 1)[-1] for e in entries]
    last = last_commits(ref.git, commit, path, names[:MAX_LAST_COMMITS])
    security = scanning.file_statuses(web.hub, ref.row.id, entries)
    return [
        {"entry": e, "name": n, "last": last.get(n), "security": security.get(e.path)}
        for e, n in zip(entries, names, strict=True)
    ]


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/") if path else []
    return [(p, "/".join(parts[: i + 1])) for i, p in enumerate(parts)]


@repo_routes(router, "/{namespace}/{name}/tree/{rev:seg}", ["GET"])
def tree_root(web: Web, repo_type: str, namespace: str, name: str, rev: str) -> Response:
    return tree(web, repo_type, namespace, name, rev, "")


@repo_routes(router, "/{namespace}/{name}/tree/{rev:seg}/{path:fpath}", ["GET"])
def tree(web: Web, repo_type: str, namespace: str, name: str, rev: str, path: str) -> Response:
    """A directory at a revision, each entry with its size and last commit, and its README below."""
    ref = open_repo(web, repo_type, namespace, name)
    commit = resolve_rev(ref, rev)
    path = path.strip("/")
    if path:
        check_path(path)
        entry = ref.git.entry(commit, path)
        if entry is None:
            raise EntryNotFound(f"No such directory: {path}")
        if entry.type == "file":
            return redirect(web, rev_url(repo_type, ref.full_id, "blob", rev, path))
    entries = _entries(web, ref, commit, path)
    readme = None
    readme_path = f"{path}/README.md" if path else "README.md"
    readme_entry = ref.git.entry(commit, readme_path)
    if readme_entry and readme_entry.type == "file" and readme_entry.pointer is None and readme_entry.size <= MAX_TEXT:
        readme = card_html(ref.git.read_blob(readme_entry.oid).decode("utf-8", "replace"))
    return render(
        web,
        "tree.html",
        **repo_context(web, ref, "files", rev),
        commit=commit,
        path=path,
        crumbs=_crumbs(path),
        entries=entries,
        readme=readme,
        head=ref.git.commit_info(commit),
    )


def _file_view(web: Web, ref: Any, commit: str, entry: Entry) -> dict[str, Any]:
    """How to show one file: image, safetensors tensor list, highlighted text, or size and hashes only."""
    view: dict[str, Any] = {"kind": "binary", "text": None, "code": None, "tensors": None}
    ext = "." + entry.path.rsplit(".", 1)[-1].lower() if "." in entry.path else ""
    if ext in IMAGES:
        view["kind"] = "image"
    elif ext == ".safetensors":
        view["tensors"] = safetensors_header(web.hub, ref.git, entry)
        view["kind"] = "safetensors"
    elif entry.size <= MAX_TEXT:
        data = read_prefix(web.hub, ref.git, entry, MAX_TEXT)
        if data is not None and _is_text(data):
            view["kind"] = "text"
            view["text"] = data.decode("utf-8")
            view["code"] = code_html(entry.path, view["text"])
            if entry.path.lower().endswith(".md"):
                view["kind"] = "markdown"
                view["markdown"] = card_html(view["text"])
    else:
        view["kind"] = "large"
    view["mime"] = mimetypes.guess_type(entry.path)[0] or "application/octet-stream"
    return view


@repo_routes(router, "/{namespace}/{name}/blob/{rev:seg}/{path:fpath}", ["GET"])
def blob(web: Web, repo_type: str, namespace: str, name: str, rev: str, path: str) -> Response:
    """One file at a revision, with raw and download links and its last commit."""
    ref = open_repo(web, repo_type, namespace, name)
    commit = resolve_rev(ref, rev)
    check_path(path)
    entry = ref.git.entry(commit, path)
    if entry is None:
        raise EntryNotFound(f"No such file: {path}")
    if entry.type == "directory":
        return redirect(web, rev_url(repo_type, ref.full_id, "tree", rev, path))
    check_gate(web.hub, ref, web.actor)  # a gated repository's files are for those granted access, as on /resolve
    context = repo_context(web, ref, "files", rev)
    editable = context["can_write"] and entry.pointer is None and entry.size <= MAX_TEXT
    view = _file_view(web, ref, commit, entry)
    return render(
        web,
        "blob.html",
        **context,
        commit=commit,
        path=path,
        crumbs=_crumbs(path),
        entry=entry,
        view=view,
        editable=editable and view["kind"] in ("text", "markdown"),
        last=ref.git.last_commit_for(commit, path),
        item={"entry": entry, "security": scanning.file_statuses(web.hub, ref.row.id, [entry]).get(entry.path)},
    )


@repo_routes(router, "/{namespace}/{name}/upload/{rev:seg}", ["GET"])
def upload_page(web: Web, repo_type: str, namespace: str, name: str, rev: str) -> Response:
    web.require_login()
    ref = open_repo(web, repo_type, namespace, name, Permission.WRITE)
    resolve_rev(ref, rev)
    return render(
        web, "upload.html", **repo_context(web, ref, "files", rev), directory=web.request.query_params.get("path", "")
    )


def _store_large(hub: Hub, repo_id: int, item: UploadFile) -> tuple[str, int]:
    """A large upload goes from the form's spooled file into the blob store and is linked to the repository,
    as an LFS upload would be, instead of passing through memory."""
    f = item.file
    f.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    oid = digest.hexdigest()
    if hub.blobs.size(oid) != size:
        f.seek(0)
        writer = hub.blobs.writer()
        try:
            while chunk := f.read(CHUNK):
                writer.write(chunk)
            writer.commit(oid, size)
        except BaseException:
            writer.abort()
            raise
    lfs.link(hub, repo_id, oid, size)
    return oid, size


def _join(directory: str, filename: str) -> str:
    path = "/".join(p for p in (directory.strip("/"), filename.strip("/")) if p)
    return check_path(path)


@repo_routes(router, "/{namespace}/{name}/upload/{rev:seg}", ["POST"])
async def upload(web: Web, repo_type: str, namespace: str, name: str, rev: str) -> Response:
    """Files from a multipart form become one commit, through the same service as the API's commits."""
    form = await checked_form(web)
    web.require_login()
    ref = await in_thread(open_repo, web, repo_type, namespace, name, Permission.WRITE)
    directory = field_str(form, "directory")
    ops: list[Operation] = []
    for item in form.getlist("files"):
        if isinstance(item, UploadFile) and item.filename:
            path = _join(directory, item.filename)
            if (item.size or 0) >= web.hub.settings.lfs_threshold:
                oid, size = await in_thread(_store_large, web.hub, ref.row.id, item)
                ops.append(AddLfsFile(path, oid, size))
            else:
                ops.append(AddFile(path, await item.read()))
    if not ops:
        raise BadRequest("Choose at least one file to upload")
    summary = field_str(form, "summary").strip() or f"Upload {len(ops)} file{'s' if len(ops) > 1 else ''}"
    req = CommitRequest(summary=summary, description=field_str(form, "description"), operations=ops)
    full_id = f"{namespace}/{name}"
    await in_thread(create_commit, web.hub, web.actor, repo_type, full_id, rev, req)
    return redirect(web, rev_url(repo_type, full_id, "tree", rev, directory.strip("/")))


@repo_routes(router, "/{namespace}/{name}/edit/{rev:seg}/{path:fpath}", ["GET"])
def edit_page(web: Web, repo_type: str, namespace: str, name: str, rev: str, path: str) -> Response:
    """A small text file (the card, typically) in a textarea; a missing file starts empty."""
    web.require_login()
    ref = open_repo(web, repo_type, namespace, name, Permission.WRITE)
    commit = resolve_rev(ref, rev)
    check_path(path)
    entry = ref.git.entry(commit, path)
    text = ""
    if entry is not None:
        if entry.type != "file" or entry.pointer is not None or entry.size > MAX_TEXT:
            raise BadRequest("Only small text files can be edited in the browser")
        data = ref.git.read_blob(entry.oid)
        if not _is_text(data):
            raise BadRequest("Only text files can be edited in the browser")
        text = data.decode("utf-8")
    return render(
        web, "edit.html", **repo_context(web, ref, "files", rev), path=path, text=text, commit=commit, new=entry is None
    )


@repo_routes(router, "/{namespace}/{name}/edit/{rev:seg}/{path:fpath}", ["POST"])
async def edit(web: Web, repo_type: str, namespace: str, name: str, rev: str, path: str) -> Response:
    form = await checked_form(web)
    web.require_login()
    check_path(path)
    # Browsers send textarea lines with CRLF; the file keeps the LF it had.
    content = field_str(form, "content").replace("\r\n", "\n").encode()
    summary = field_str(form, "summary").strip() or f"Update {path}"
    parent = field_str(form, "parent_commit") or None
    req = CommitRequest(summary, field_str(form, "description"), parent, [AddFile(path, content)])
    full_id = f"{namespace}/{name}"
    await in_thread(create_commit, web.hub, web.actor, repo_type, full_id, rev, req)
    return redirect(web, rev_url(repo_type, full_id, "blob", rev, path))
