"""Bad input to the CAS: malformed, truncated, oversized or forged xorbs and shards are refused with a 400 (413
for bodies over the limit) and leave nothing behind (no xorb bytes, no rows, no file, no LFS link); a commit
cannot reference a sha256 no shard registered for its repository."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
import pytest

from haven.xet import (
    CASChunk,
    CASInfo,
    FileInfo,
    Term,
    chunk_hash,
    hash_to_hex,
    hex_to_hash,
    serialize_shard,
    xorb_hash,
)
from haven.xet.constants import SHARD_MAX_SIZE, XORB_MAX_SIZE
from tests.cas._xet import (
    Cas,
    FileData,
    XorbData,
    cas,
    commit_lfs,
    file_info,
    make_file,
    make_xorb,
    new_repo,
    random_bytes,
    storage,
)
from tests.conftest import Hub

KB = 1024


@dataclass
class Setup:
    hub: Hub
    repo_id: str
    cas: Cas
    stored: FileData  # its xorbs are stored, its file is not registered
    registered: FileData  # stored and registered


@pytest.fixture(scope="module")
def setup(sqlite_hub: Hub) -> Setup:
    repo_id = new_repo(sqlite_hub)
    w = cas(sqlite_hub, repo_id, "write")
    stored = make_file(random_bytes(96 * KB, 50) + b"abc" * 30000, 16 * KB, 4)  # 3 xorbs
    for x in stored.xorbs:
        assert w.post_xorb(x).status_code == 200
    registered = make_file(random_bytes(50 * KB, 51), 16 * KB)
    w.upload(registered)
    return Setup(sqlite_hub, repo_id, w, stored, registered)


def _refused(s: Setup, send: Callable[[], httpx.Response], status: int = 400) -> httpx.Response:
    before = storage(s.hub)
    r = send()
    assert r.status_code == status, (r.status_code, r.text)
    assert storage(s.hub) == before  # nothing stored, registered or linked
    return r


def _header(size: int, raw: int, ctype: int = 0, version: int = 0) -> bytes:
    return bytes([version]) + size.to_bytes(3, "little") + bytes([ctype]) + raw.to_bytes(3, "little")


# --- xorbs ---------------------------------------------------------------------------------------------


def _xorb_cases() -> dict[str, tuple[str, bytes]]:
    """case -> (hash in the URL, body). Bodies whose headers lie are sent under the hash of the chunks they
    really carry, so only the lie can be what gets them refused."""
    good = make_xorb([random_bytes(10 * KB, 60), b"x" * 12 * KB, random_bytes(5 * KB, 61)])
    body = good.body
    first = good.chunks[0]
    raw_chunk = _header(len(first), len(first)) + first
    lz4 = make_xorb([b"y" * 20 * KB])
    lz4_payload = lz4.body[8:]
    big = random_bytes(129 * KB, 63)

    def name(*chunks: bytes) -> str:
        return hash_to_hex(xorb_hash((chunk_hash(c), len(c)) for c in chunks))

    return {
        "empty": (good.hash, b""),
        "garbage": (good.hash, random_bytes(3000, 62)),
        "truncated in a header": (good.hash, body[: len(raw_chunk) + 5]),
        "truncated in a payload": (good.hash, body[:-100]),
        "trailing bytes": (good.hash, body + b"\x00" * 3),
        "wrong hash": (make_xorb([b"other"]).hash, body),
        "hash of other chunks": (make_xorb(good.chunks[:2]).hash, body),
        "chunk bytes altered": (good.hash, body[:20] + bytes([body[20] ^ 1]) + body[21:]),
        "uncompressed length lies (raw chunk)": (name(first), _header(len(first), len(first) + 1) + first),
        "compressed length runs past the end": (name(first), _header(len(first) + 50, len(first)) + first),
        "uncompressed length lies (LZ4)": (lz4.hash, _header(len(lz4_payload), 20 * KB - 1, 1) + lz4_payload),
        "LZ4 payload corrupt": (lz4.hash, _header(len(lz4_payload), 20 * KB, 1) + b"\xff" * len(lz4_payload)),
        "unknown compression": (name(first), _header(len(first), len(first), 9) + first),
        "unknown header version": (name(first), _header(len(first), len(first), 0, 1) + first),
        "empty chunk": (name(b""), _header(0, 0)),
        "chunk over 128 KiB": (name(big), _header(len(big), len(big)) + big),
        "legacy XETBLOB footer": (good.hash, body + b"XETBLOB" + bytes(57)),
    }


XORB_CASES = _xorb_cases()


@pytest.mark.parametrize("case", list(XORB_CASES))
def test_bad_xorb(setup: Setup, case: str) -> None:
    name, body = XORB_CASES[case]
    _refused(setup, lambda: setup.cas.post_xorb(name, body))


def test_bad_xorb_names(setup: Setup) -> None:
    x = make_xorb([b"named badly" * 100])
    for name in (x.hash.upper(), x.hash[:-1], x.hash + "0", "z" * 64):
        _refused(setup, lambda n=name: setup.cas.post_xorb(n, x.body))
    _refused(setup, lambda: setup.cas.call("POST", f"/v1/xorbs/other/{x.hash}", content=x.body))


def test_oversized_xorb_and_shard(setup: Setup) -> None:
    x = make_xorb([b"big"])
    body = b"\x00" * (XORB_MAX_SIZE + 1)
    _refused(setup, lambda: setup.cas.post_xorb(x, body), 413)

    def streamed() -> httpx.Response:  # no Content-Length: refused once the limit is crossed
        chunks = (b"\x00" * (1024 * 1024) for _ in range(XORB_MAX_SIZE // (1024 * 1024) + 1))
        return setup.cas.call("POST", f"/v1/xorbs/default/{x.hash}", content=chunks)

    _refused(setup, streamed, 413)
    for version in (1, 2):
        _refused(setup, lambda v=version: setup.cas.post_shard(b"\x00" * (SHARD_MAX_SIZE + 1), v), 413)


# --- shards --------------------------------------------------------------------------------------------


def _shard_cases(s: Setup) -> dict[str, bytes]:
    st, reg = s.stored, s.registered
    x0, x1 = st.xorbs[0], st.xorbs[1]
    good = st.info()
    cas_infos = [x.cas_info() for x in st.xorbs]
    unknown = make_xorb([random_bytes(16 * KB, 70)])
    data_u = b"".join(unknown.chunks)
    forged_sha = hashlib.sha256(b"something else").hexdigest()

    def with_terms(terms: list[Term], xorbs: list[XorbData], data: bytes) -> FileInfo:
        return file_info(terms, xorbs, hashlib.sha256(data).hexdigest())

    full0 = sum(map(len, x0.chunks))
    cases = {
        "garbage": random_bytes(500, 71),
        "empty": b"",
        "truncated": st.shard()[:-30],
        "truncated header": st.shard()[:40],
        "trailing bytes": st.shard() + b"\x00" * 48,
        "with footer": serialize_shard([good], cas_infos, footer=True),
        "wrong magic": b"\x00" * 32 + st.shard()[32:],
        "unknown xorb in a term": serialize_shard(
            [with_terms([Term(unknown.raw_hash, len(data_u), 0, 1)], [unknown], data_u)], []
        ),
        "unknown xorb in the CAS info": serialize_shard([], [unknown.cas_info()]),
        "CAS info chunk list does not match the xorb": serialize_shard(
            [], [CASInfo(x0.raw_hash, x0.cas_info().chunks[:-1], num_bytes_on_disk=len(x0.body))]
        ),
        "CAS info chunk hash altered": serialize_shard(
            [],
            [
                replace(
                    x0.cas_info(),
                    chunks=(CASChunk(b"\x01" * 32, 0, len(x0.chunks[0])), *x0.cas_info().chunks[1:]),
                )
            ],
        ),
        "CAS info sizes inconsistent": serialize_shard([], [replace(x0.cas_info(), num_bytes_in_cas=1)]),
        "chunk range past the xorb": serialize_shard(
            [
                FileInfo(
                    good.file_hash,
                    (Term(x0.raw_hash, full0, 0, len(x0.chunks) + 1),),
                    (good.verification[0],),
                    good.sha256,
                )
            ],
            [],
        ),
        "empty chunk range": serialize_shard(
            [FileInfo(good.file_hash, (Term(x0.raw_hash, 0, 2, 2),), (good.verification[0],), good.sha256)], []
        ),
        "term size lies": serialize_shard(
            [replace(good, terms=(good.terms[0]._replace(unpacked_segment_bytes=full0 - 1), *good.terms[1:]))], []
        ),
        "wrong verification hash": serialize_shard(
            [replace(good, verification=(good.verification[1], *good.verification[1:]))], []
        ),
        "no verification entries": serialize_shard([replace(good, verification=None)], []),
        "wrong file hash": serialize_shard([replace(good, file_hash=reg.info().file_hash)], []),
        "file hash of a prefix": serialize_shard(
            [replace(good, file_hash=file_info(st.terms[:1], st.xorbs, st.sha256).file_hash)], []
        ),
        "wrong sha256": serialize_shard([replace(good, sha256=hex_to_hash(forged_sha))], []),
        "no sha256": serialize_shard([replace(good, sha256=None)], []),
        "terms reordered": serialize_shard(
            [file_info([st.terms[1], st.terms[0], st.terms[2]], st.xorbs, st.sha256)], []
        ),
        "already registered file, wrong sha256": serialize_shard(
            [replace(reg.info(), sha256=hex_to_hash(forged_sha))], []
        ),
        "already registered file, another stored file's sha256": serialize_shard(
            [replace(reg.info(), sha256=hex_to_hash(st.sha256))], []
        ),
        "valid file, then an invalid one": serialize_shard(
            [good, replace(reg.info(), sha256=hex_to_hash(forged_sha))], cas_infos
        ),
        "valid file, then a corrupt term": serialize_shard(
            [good, with_terms([Term(x1.raw_hash, 1, 0, 1)], st.xorbs, b"x")], cas_infos
        ),
    }
    return cases


SHARD_CASES = [
    "garbage",
    "empty",
    "truncated",
    "truncated header",
    "trailing bytes",
    "with footer",
    "wrong magic",
    "unknown xorb in a term",
    "unknown xorb in the CAS info",
    "CAS info chunk list does not match the xorb",
    "CAS info chunk hash altered",
    "CAS info sizes inconsistent",
    "chunk range past the xorb",
    "empty chunk range",
    "term size lies",
    "wrong verification hash",
    "no verification entries",
    "wrong file hash",
    "file hash of a prefix",
    "wrong sha256",
    "no sha256",
    "terms reordered",
    "already registered file, wrong sha256",
    "already registered file, another stored file's sha256",
    "valid file, then an invalid one",
    "valid file, then a corrupt term",
]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("case", SHARD_CASES)
def test_bad_shard(setup: Setup, case: str, version: int) -> None:
    shard = _shard_cases(setup)[case]
    _refused(setup, lambda: setup.cas.post_shard(shard, version))
    # Whatever the shard claimed, a commit cannot use the file it tried to register.
    r = commit_lfs(setup.hub, setup.repo_id, {"f.bin": (setup.stored.sha256, setup.stored.size)})
    assert r.status_code == 400, r.text


def test_shard_cases_are_complete(setup: Setup) -> None:
    assert set(_shard_cases(setup)) == set(SHARD_CASES)
    # The valid shard the cases are forged from is accepted (in a repository of its own, leaving setup intact).
    repo_id = new_repo(setup.hub)
    r = cas(setup.hub, repo_id, "write").post_shard(setup.stored.shard())
    assert r.status_code == 200 and r.json() == {"result": 1}
    assert commit_lfs(setup.hub, repo_id, {"f.bin": (setup.stored.sha256, setup.stored.size)}).status_code == 200


# --- commits -------------------------------------------------------------------------------------------


def test_commit_needs_a_registered_sha256(setup: Setup) -> None:
    hub = setup.hub
    unknown = hashlib.sha256(b"never uploaded").hexdigest()
    reg = setup.registered
    for files in (
        {"a.bin": (unknown, 14)},
        {"a.bin": (setup.stored.sha256, setup.stored.size)},  # xorbs stored, but no shard registered the file
        {"a.bin": (reg.sha256, reg.size + 1)},  # registered, but not with this size
    ):
        r = commit_lfs(hub, setup.repo_id, files)
        assert r.status_code == 400, (files, r.text)
    # Registered for this repository: fine. Another repository must register it itself (or upload it over LFS).
    assert commit_lfs(hub, setup.repo_id, {"a.bin": (reg.sha256, reg.size)}).status_code == 200
    other = new_repo(hub)
    assert commit_lfs(hub, other, {"a.bin": (reg.sha256, reg.size)}).status_code == 400
    cas(hub, other, "write").upload(reg)
    assert commit_lfs(hub, other, {"a.bin": (reg.sha256, reg.size)}).status_code == 200


def test_a_shard_cannot_claim_another_objects_sha256(sqlite_hub: Hub) -> None:
    """Bob knows the sha256 and size of a file in alice's private repository (say, from a leaked pointer). He
    registers a file of his own with that size, then registers it again claiming alice's sha256: refused,
    so he can neither commit a pointer to it nor download it."""
    victim_repo = new_repo(sqlite_hub, private=True)
    secret = make_file(random_bytes(70_000, 80))
    cas(sqlite_hub, victim_repo, "write").upload(secret)
    assert commit_lfs(sqlite_hub, victim_repo, {"secret.bin": (secret.sha256, secret.size)}).status_code == 200
    lfs_secret = random_bytes(70_000, 81)  # and one uploaded over plain LFS
    sqlite_hub.api("alice").upload_file(path_or_fileobj=lfs_secret, path_in_repo="lfs.bin", repo_id=victim_repo)

    bob_repo = new_repo(sqlite_hub, "bob")
    bob = cas(sqlite_hub, bob_repo, "write", "bob")
    mine = make_file(random_bytes(70_000, 82))
    bob.upload(mine)
    for sha in (secret.sha256, hashlib.sha256(lfs_secret).hexdigest()):
        before = storage(sqlite_hub)
        r = bob.post_shard(serialize_shard([replace(mine.info(), sha256=hex_to_hash(sha))], []))
        assert r.status_code == 400, r.text
        assert storage(sqlite_hub) == before
        r = commit_lfs(sqlite_hub, bob_repo, {"stolen.bin": (sha, 70_000)}, "bob")
        assert r.status_code == 400, r.text
    assert httpx.get(f"{sqlite_hub.url}/{bob_repo}/resolve/main/stolen.bin").status_code == 404
    # Nor may he read alice's file through the CAS with his own repository's token.
    assert bob.reconstruction(secret.file_id).status_code == 404
