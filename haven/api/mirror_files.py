"""Downloads of mirrored files not yet in the blob store (haven.mirror.fill): streamed to the client while
they are cached."""

from __future__ import annotations

from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from haven.api.responses import FileBody, bytes_head, parse_range
from haven.errors import NotFound
from haven.hub import Hub
from haven.mirror import status, upstream
from haven.mirror.fill import FILLS
from haven.mirror.rules import config
from haven.mirror.service import upstream_for_ref
from haven.repos.service import RepoRef


def serve(
    request: Request, hub: Hub, ref: RepoRef, commit: str, path: str, oid: str, size: int, headers: dict[str, str]
) -> Response:
    """The file's bytes (or the requested range), read from the fill that copies it from the upstream.
    HEAD asks nothing of the upstream: the pointer knows the size and hash."""
    source = upstream_for_ref(hub, ref)
    if source is None:
        raise NotFound("The file's bytes are missing from storage")
    headers = {**headers, "ETag": f'"{oid}"', "X-Linked-Etag": f'"{oid}"', "X-Linked-Size": str(size)}
    if request.method == "HEAD" or size == 0:
        return bytes_head(size, headers, request.headers.get("range"))
    byte_range = parse_range(request.headers.get("range"), size)
    timeout = config(hub.settings).timeout

    def source_response():  # type: ignore[no-untyped-def]
        return upstream.open_file(source, ref.type, ref.full_id, commit, path, timeout)

    fill = FILLS.get_or_start(hub.blobs, oid, size, source_response)
    if fill is None:  # stored meanwhile
        return FileBody(hub.blobs.path(oid), size, headers, byte_range, False)
    if not fill.wait_started(timeout * 2):
        status.mark(status.STALE)
        raise upstream.UpstreamUnavailable(f"The upstream could not supply {path}: {fill.error or 'timed out'}")
    start, end = byte_range or (0, size - 1)
    headers.update({"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)})
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    body = iterate_in_threadpool(fill.read(start, end))
    return StreamingResponse(body, status_code=206 if byte_range else 200, headers=headers)
