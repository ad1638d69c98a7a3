"""Downloads: /resolve (GET and HEAD) with the Hub's headers, and the signed blob URLs LFS files redirect to."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from starlette.responses import Response

from haven.api.common import check_gate, lookup, resolve_rev
from haven.api.deps import ActorDep, HubDep
from haven.api.responses import FileBody, bytes_body, parse_range
from haven.auth.permissions import Permission
from haven.errors import EntryNotFound, NotFound
from haven.names import check_path
from haven.storage.local import OID_RE

router = APIRouter()
GET_HEAD = ["GET", "HEAD"]


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def resolve(
    repo_type: str, namespace: str, name: str, revision: str, path: str, request: Request, hub: HubDep, actor: ActorDep
) -> Response:
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    commit = resolve_rev(ref, revision)
    check_path(path)
    entry = ref.git.entry(commit, path)
    if entry is None or entry.type != "file":
        raise EntryNotFound(f"Entry not found: {path} at {revision}", headers={"X-Repo-Commit": commit})
    check_gate(ref, actor)
    hub.downloads.record(ref.type, ref.row.id, path)
    head = request.method == "HEAD"
    headers = {"X-Repo-Commit": commit, "Content-Type": _content_type(path)}
    if entry.pointer is None:
        headers["ETag"] = f'"{entry.oid}"'
        return bytes_body(ref.git.read_blob(entry.oid), headers, request.headers.get("range"), head)
    oid, size = entry.pointer.oid, entry.pointer.size
    query = request.app.state.signer.sign("blob", oid=oid, commit=commit, name=path.rsplit("/", 1)[-1])
    headers.update(
        {
            "ETag": f'"{entry.oid}"',
            "X-Linked-Etag": f'"{oid}"',
            "X-Linked-Size": str(size),
            "Location": f"/_blobs/{oid}?{query}",
            "Content-Length": "0",
        }
    )
    return Response(status_code=302, headers=headers)


for prefix, repo_type in (("/datasets", "dataset"), ("/spaces", "space"), ("", "model")):

    def _route(
        namespace: str,
        name: str,
        revision: str,
        path: str,
        request: Request,
        hub: HubDep,
        actor: ActorDep,
        _repo_type: str = repo_type,
    ) -> Response:
        return resolve(_repo_type, namespace, name, revision, path, request, hub, actor)

    _route.__doc__ = f"Serves hf_hub_download / get_hf_file_metadata / file_exists for {repo_type}s."
    router.add_api_route(
        f"{prefix}/{{namespace}}/{{name}}/resolve/{{revision:seg}}/{{path:fpath}}",
        _route,
        methods=GET_HEAD,
        name=f"resolve_{repo_type}",
    )


@router.api_route("/_blobs/{oid}", methods=GET_HEAD)
def blob(oid: str, request: Request, hub: HubDep) -> Response:
    """The target of an LFS resolve redirect: the object's bytes, with the same metadata headers."""
    fields = request.app.state.signer.verify("blob", dict(request.query_params), ("oid", "commit", "name"))
    if fields["oid"] != oid or not OID_RE.match(oid):
        raise NotFound("Not found")
    path = hub.blobs.local_path(oid)
    size = hub.blobs.size(oid)
    if path is None or size is None:
        raise NotFound("The object's bytes are missing from storage")
    headers = {
        "X-Repo-Commit": fields["commit"],
        "ETag": f'"{oid}"',
        "X-Linked-Etag": f'"{oid}"',
        "X-Linked-Size": str(size),
        "Content-Type": _content_type(fields["name"]),
        "Content-Disposition": f'attachment; filename="{_quote_filename(fields["name"])}"',
        "Cache-Control": "private, max-age=3600, immutable",
    }
    byte_range = parse_range(request.headers.get("range"), size)
    return FileBody(path, size, headers, byte_range, request.method == "HEAD")


def _quote_filename(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
