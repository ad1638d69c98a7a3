"""Shared by the scenario scripts. Standalone: only the standard library and whatever client the venv holds.

Every scenario reads its context from the environment the runner sets:
  HF_ENDPOINT, HF_TOKEN (alice's write token), HF_HOME (private per run),
  COMPAT_FIXTURES (JSON manifest of the repos the runner seeded, with every user's tokens),
  COMPAT_WORK (a scratch directory), COMPAT_ID (unique per run: goes into repo names).
It prints one line `COMPAT-RESULT: {"status": "pass"|"fail"|"skip", "reason": ..., "details": ...}` and exits
0 (pass, skip) or 1 (fail). `step()` names what is being done, so a failure says where it happened.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import os
import sys
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER = "COMPAT-RESULT:"
ENDPOINT = os.environ["HF_ENDPOINT"].rstrip("/")
TOKEN = os.environ.get("HF_TOKEN", "")
WORK = Path(os.environ.get("COMPAT_WORK", "."))
UID = os.environ.get("COMPAT_ID", "x")
_current = ["start"]
_details: dict[str, Any] = {}


class Skip(Exception):
    """Raise to report the scenario as not applicable to this client generation."""


def fixtures() -> dict[str, Any]:
    return json.loads(Path(os.environ["COMPAT_FIXTURES"]).read_text())


def token(user: str, read: bool = False) -> str:
    return fixtures()["users"][user]["read_token" if read else "token"]


def step(name: str) -> None:
    _current[0] = name
    print(f"--- {name}", flush=True)


def note(key: str, value: Any) -> None:
    _details[key] = value


def version(dist: str) -> tuple[int, ...] | None:
    """The installed version of a distribution as a tuple of ints, or None when it is not installed."""
    try:
        raw = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    parts = []
    for piece in raw.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def xet_active() -> bool:
    """Whether this client uploads and downloads through Xet (hf_xet installed, not disabled)."""
    hub = version("huggingface_hub")
    disabled = os.environ.get("HF_HUB_DISABLE_XET", "").upper() in {"1", "ON", "YES", "TRUE"}
    return bool(hub and hub >= (0, 30) and version("hf_xet") and not disabled)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call fn with only the keyword arguments its signature takes (older and newer clients differ)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(*args, **kwargs)
    dropped = sorted(k for k in kwargs if k not in params)
    if dropped:
        print(f"    ({getattr(fn, '__name__', fn)} takes no {', '.join(dropped)}: left out)", flush=True)
    return fn(*args, **{k: v for k, v in kwargs.items() if k in params})


def check(condition: object, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def raises(names: tuple[str, ...], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> BaseException:
    """Assert fn raises an exception whose class (or one of its bases) is named in `names`."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        mro = {cls.__name__ for cls in type(exc).__mro__}
        check(mro & set(names), f"expected {'/'.join(names)}, got {type(exc).__name__}: {str(exc)[:300]}")
        return exc
    raise AssertionError(f"expected {'/'.join(names)}, but the call succeeded")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def http(method: str, path: str, *, token: str | None = None, body: bytes | None = None, headers: dict | None = None):
    """A plain HTTP request to the hub (no client library); returns (status, headers with lower-case names, body).
    Follows redirects."""
    req = urllib.request.Request(ENDPOINT + path, data=body, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def fetch_sha256(
    repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model", token: str | None = None
):
    """sha256 of a file as the hub serves it over plain HTTP, independent of the client under test."""
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    rev = urllib.request.quote(revision, safe="")
    status, _, body = http("GET", f"/{prefix}{repo_id}/resolve/{rev}/{urllib.request.quote(path)}", token=token)
    check(status == 200, f"GET {path}@{revision}: HTTP {status} {body[:200]!r}")
    return sha256_bytes(body)


def hub_api(token: str | bool | None = None):  # type: ignore[no-untyped-def]
    """HfApi on the endpoint; token None means HF_TOKEN, False means anonymous."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=ENDPOINT, token=token)


def create_repo(api: Any, repo_id: str, **kwargs: Any) -> Any:
    """create_repo across signatures: repo_id first (0.13+), else name + organization (older releases)."""
    try:
        return call(api.create_repo, repo_id, **kwargs)
    except TypeError as exc:
        if "organization" not in str(inspect.signature(api.create_repo)):
            raise
        namespace, name = repo_id.split("/")
        print(f"    (create_repo(repo_id) failed: {exc}; old signature)", flush=True)
        return call(api.create_repo, name=name, organization=namespace, **kwargs)


def commit_oid(info: Any) -> str | None:
    """The commit id from what upload_file/upload_folder/create_commit return (CommitInfo, or a URL string)."""
    oid = getattr(info, "oid", None)
    if oid:
        return oid
    text = str(info)
    if "/commit/" in text:
        return text.rsplit("/commit/", 1)[1].split("/")[0]
    return None


def run(main: Callable[[], Any]) -> None:
    """Run a scenario's main(), print its result line and exit."""
    from contextlib import suppress

    for dist in ("huggingface_hub", "hf_xet", "transformers", "datasets", "sentence_transformers", "torch"):
        with suppress(importlib.metadata.PackageNotFoundError):
            _details.setdefault("versions", {})[dist] = importlib.metadata.version(dist)
    status, reason, code = "pass", "", 0
    try:
        main()
    except Skip as exc:
        status, reason = "skip", str(exc)
    except BaseException as exc:  # a scenario reports every failure, SystemExit included
        traceback.print_exc()
        message = " ".join(str(exc).split())[:400]
        status, reason, code = "fail", f"{_current[0]}: {type(exc).__name__}: {message}", 1
    print(MARKER + json.dumps({"status": status, "reason": reason, "details": _details}), flush=True)
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown: some clients' background threads hang at exit
