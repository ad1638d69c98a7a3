"""Shared plumbing for the benchmarks: nginx baselines, a Haven server with a user and token, CPU accounting.

Every benchmark compares Haven against a baseline measured in the same run, because the machines are
shared and noisy; absolute numbers from different runs are not comparable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import Server, free_port  # noqa: E402

NGINX = "/usr/sbin/nginx"
GIB = 1 << 30
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The clients must stay local and quiet, and take the plain LFS path, which is what these benchmarks measure.
os.environ.update(
    {
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
)
os.environ.pop("HF_TOKEN", None)


# --- processes and CPU time ------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime in ticks) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by `root` and all its live descendants."""
    procs = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            procs[int(name)] = st
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in procs:
            continue
        seen.add(pid)
        total += procs[pid][1]
        todo.extend(p for p, (ppid, _) in procs.items() if ppid == pid)
    return total / CLK_TCK


# --- nginx -------------------------------------------------------------------------------------------


@dataclass
class Nginx:
    port: int
    prefix: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def nginx(server_body: str, workers: int = 1, http_extra: str = "") -> Iterator[Nginx]:
    """nginx in the foreground with a temp config; `server_body` goes inside `server { listen ...; }`."""
    prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = f"""
{user}
daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    {http_extra}
    server {{
        listen 127.0.0.1:{port};
        {server_body}
    }}
}}
"""
    (prefix / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_port(port, proc, lambda: (prefix / "error.log").read_text(errors="replace"))
        yield Nginx(port, prefix, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_port(port: int, proc: subprocess.Popen[bytes], logs: Callable[[], str], timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{logs()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}:\n{logs()}")


# --- Haven -------------------------------------------------------------------------------------------


@dataclass
class Haven:
    server: Server
    root: Path
    user: str
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid

    def api(self):  # type: ignore[no-untyped-def]
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.url, token=self.token)


@contextlib.contextmanager
def haven(
    user: str = "bench",
    env: dict[str, str] | None = None,
    prepare: Callable[[str], object] | None = None,
    keep: Path | None = None,
) -> Iterator[Haven]:
    """A `haven serve` subprocess (one worker unless HAVEN_WORKERS is set) with one user and a write token.

    `prepare(database_url)` runs on the migrated database before the server starts (bulk loaders). With
    `keep`, the data directory lives there and survives the run; a later run with the same `keep` reuses
    it as prepared (so a 1M-row load happens once)."""
    from haven.auth import service
    from haven.config import Settings
    from haven.hub import Hub

    root = keep or Path(tempfile.mkdtemp(prefix="bench-haven-"))
    server = Server(root / "data", extra_env=env or {})
    reuse = (server.data_dir / "haven.db").exists()
    server.data_dir.mkdir(parents=True, exist_ok=True)
    hub = Hub.open(Settings(data_dir=server.data_dir))
    with hub.db.write() as session:
        if not reuse:
            service.create_user(session, user, email=f"{user}@example.org")
        token = service.create_token(session, user, "bench", "write")
    url = hub.settings.sqlalchemy_url
    hub.close()
    if prepare is not None and not reuse:
        prepare(url)
    server.start(timeout=300)
    try:
        yield Haven(server, root, user, token)
    finally:
        server.stop()
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


# --- files and reporting ------------------------------------------------------------------------------


def check_disk(path: Path, need: int) -> None:
    free = shutil.disk_usage(path).free
    if free < need:
        raise SystemExit(f"need {need / GIB:.1f} GiB free under {path}, have {free / GIB:.1f} GiB")


def make_file(path: Path, size: int) -> None:
    """`size` bytes of incompressible data (a random 64 MiB block repeated with a varying prefix)."""
    block = bytearray(os.urandom(64 << 20))
    with open(path, "wb") as f:
        written, i = 0, 0
        while written < size:
            block[:8] = i.to_bytes(8, "little")
            n = min(len(block), size - written)
            f.write(memoryview(block)[:n])
            written += n
            i += 1


def settle() -> None:
    """Flush dirty pages before a timed run, so no run pays for the previous run's writeback."""
    os.sync()
    time.sleep(0.5)


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        buf = bytearray(8 << 20)
        while f.readinto(buf):
            pass


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_runs(xs: list[float], unit: str = "", digits: int = 2) -> str:
    body = ", ".join(f"{x:.{digits}f}" for x in xs)
    return f"median {median(xs):.{digits}f}{unit} [{body}]"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# --- model-like files (for the Xet benchmarks) ------------------------------------------------------------

# (name, safetensors dtype, shape) of a small decoder: a bf16 embedding, then per layer four float32 attention
# matrices, three bf16 MLP matrices and two float32 norms.
Tensor = tuple[str, str, tuple[int, ...]]
_ITEMSIZE = {"F32": 4, "BF16": 2}


def model_spec(target_bytes: int, hidden: int = 768, vocab: int = 32000) -> list[Tensor]:
    """Tensors of a model of about `target_bytes` (layers added until the size is reached)."""
    spec: list[Tensor] = [("model.embed_tokens.weight", "BF16", (vocab, hidden))]
    layer = 0
    while sum(tensor_bytes(t) for t in spec) < target_bytes:
        p = f"model.layers.{layer}"
        spec += [(f"{p}.self_attn.{m}_proj.weight", "F32", (hidden, hidden)) for m in "qkvo"]
        spec += [(f"{p}.mlp.{m}_proj.weight", "BF16", (hidden * 8 // 3, hidden)) for m in ("gate", "up", "down")]
        spec += [(f"{p}.{m}.weight", "F32", (hidden,)) for m in ("input_layernorm", "post_attention_layernorm")]
        layer += 1
    return [*spec, ("model.norm.weight", "F32", (hidden,))]


def tensor_bytes(t: Tensor) -> int:
    n = _ITEMSIZE[t[1]]
    for d in t[2]:
        n *= d
    return n


def write_safetensors(path: Path, spec: list[Tensor], seeds: dict[str, int]) -> str:
    """Write a safetensors file of random weights (normal, std 0.02), tensor `name` drawn from seed
    `seeds.get(name, 0)`: the same seed gives the same bytes. Returns the file's sha256."""
    import hashlib
    import json

    import numpy as np

    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dtype, shape in spec:
        n = tensor_bytes((name, dtype, shape))
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for block in (len(head).to_bytes(8, "little"), head):
            f.write(block)
            digest.update(block)
        for i, (name, dtype, shape) in enumerate(spec):
            rng = np.random.default_rng([seeds.get(name, 0), i])
            values = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
            data = (values.view(np.uint32) >> 16).astype(np.uint16) if dtype == "BF16" else values
            buf = data.tobytes()
            f.write(buf)
            digest.update(buf)
    return digest.hexdigest()


def sha256_file(path: Path | str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while n := f.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def dir_bytes(path: Path) -> int:
    """Bytes of every file under `path` (0 if it does not exist)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0
