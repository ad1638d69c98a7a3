"""Headers of file responses, shared by the main server's downloads (haven.api.files) and the sendfile blob
server (haven.blobserver). Standard library only: the blob server is a process of its own, started with every
`haven serve`, and importing the API's routes would cost it a second of CPU at each start."""

from __future__ import annotations

import mimetypes

UNTRUSTED = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


def content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def quote_filename(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")


def blob_headers(oid: str, size: int, fields: dict[str, str]) -> dict[str, str]:
    """Metadata headers of a signed blob response (the final hop of an LFS download)."""
    return {
        "X-Repo-Commit": fields["commit"],
        "ETag": f'"{oid}"',
        "X-Linked-Etag": f'"{oid}"',
        "X-Linked-Size": str(size),
        "Content-Type": content_type(fields["name"]),
        "Content-Disposition": f'attachment; filename="{quote_filename(fields["name"])}"',
        **UNTRUSTED,
        "Cache-Control": "private, max-age=3600, immutable",
    }
