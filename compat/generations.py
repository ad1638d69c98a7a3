"""Client generations: one virtualenv each, built on demand in a cache outside the repository and reused.

A venv is rebuilt only when its spec changes (the spec's hash is written to `.compat-ready` last, so a
half-built venv is never mistaken for a finished one). torch is installed once into a seed venv and
hard-linked into every venv that needs it: copying a 900 MB tree costs a second, installing it a minute.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TORCH = "torch==2.13.0"  # the CPU build on this machine's disk; a bare `torch` would download GBs of CUDA wheels
MARKER = ".compat-ready"


def venv_root() -> Path:
    """Where the venvs live: $HAVEN_COMPAT_VENVS, else ~/.cache/haven/compat-venvs: outside the repository, and
    the same for every checkout on the machine, so CI's fresh clones reuse what an earlier run built."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "haven" / "compat-venvs"
    return Path(os.environ.get("HAVEN_COMPAT_VENVS") or default)


@dataclass(frozen=True)
class Generation:
    """One client generation: what is installed in its venv, and what its users run it with."""

    name: str
    packages: tuple[str, ...] = ()
    torch: bool = False
    remove: tuple[str, ...] = ()  # uninstalled after the install (hf_xet: the generation without Xet)
    env: dict[str, str] = field(default_factory=dict)
    system: bool = False  # not a venv: the scenario runs Debian's git and git-lfs under the main interpreter
    scenarios: tuple[str, ...] | None = None  # None: every scenario its packages allow
    ci: tuple[str, ...] = ()  # the scenarios tests/compat runs for this generation

    @property
    def label(self) -> str:
        if self.system:
            return self.name
        pinned = [p.replace("==", " ") for p in self.packages if "==" in p]
        return ", ".join(pinned) + (" (no hf_xet)" if "hf_xet" in self.remove else "")

    def spec_hash(self) -> str:
        spec = {"packages": self.packages, "torch": TORCH if self.torch else None, "remove": self.remove}
        spec["python"] = sys.version_info[:2]
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


HUB_CI = ("create_repo", "upload", "download")
HUB_SCENARIOS = (
    "create_repo",
    "upload",
    "upload_large_folder",
    "download",
    "list_search",
    "refs_commits",
    "pull_request",
    "private",
    "cli",
    "hffs",
    "legacy_repository",
)


def _hub(version: str, xet: str | None, name: str, *extra: str) -> list[Generation]:
    """A huggingface_hub generation with hf_xet (pinned to a release of its time) and without."""
    hub = (f"huggingface_hub=={version}", *extra)
    gens = []
    if xet:
        gens.append(Generation(name, (*hub, f"hf_xet=={xet}"), scenarios=HUB_SCENARIOS, ci=HUB_CI))
    noxet = f"{name}-noxet" if xet else name
    gens.append(Generation(noxet, hub, remove=("hf_xet",), scenarios=HUB_SCENARIOS, ci=HUB_CI))
    return gens


DATASETS = ("datasets_load", "datasets_push")
GENERATIONS: list[Generation] = [
    # huggingface_hub 0.29 predates Xet; 0.3x are the last requests-based releases; 1.x moved to httpx; 2.x to httpx2.
    *_hub("0.29.3", None, "hub-0.29"),
    *_hub("0.36.2", "1.1.10", "hub-0.36"),
    # 1.0's CLI imports click, which today's typer-slim (its declared dependency) no longer pulls in.
    *_hub("1.0.0", "1.2.0", "hub-1.0", "click"),
    *_hub("1.33.0", "1.6.0", "hub-1.33"),
    *_hub("2.4.0", "1.8.0", "hub-2.4"),
    Generation(
        "transformers-4",
        ("transformers==4.57.6", "huggingface_hub==0.36.2", "hf_xet==1.1.10"),
        torch=True,
        scenarios=("transformers_model",),
        ci=("transformers_model",),
    ),
    Generation(
        "transformers-5",
        ("transformers==5.24.0", "huggingface_hub==2.4.0", "hf_xet==1.8.0", "sentence-transformers==6.2.0"),
        torch=True,
        scenarios=("transformers_model", "sentence_transformers_model"),
        ci=("transformers_model", "sentence_transformers_model"),
    ),
    Generation(
        "datasets-3",
        ("datasets==3.6.0", "huggingface_hub==0.36.2", "hf_xet==1.1.10"),
        scenarios=DATASETS,
        ci=("datasets_load",),
    ),
    Generation(
        "datasets-4",
        ("datasets==4.8.5", "huggingface_hub==1.33.0", "hf_xet==1.6.0"),
        scenarios=DATASETS,
        ci=("datasets_load",),
    ),
    Generation(
        "datasets-5",
        ("datasets==5.2.0", "huggingface_hub==2.4.0", "hf_xet==1.8.0"),
        scenarios=DATASETS,
        ci=("datasets_load",),
    ),
    Generation("git", system=True, scenarios=("git_lfs",), ci=("git_lfs",)),
]
BY_NAME = {g.name: g for g in GENERATIONS}


def git_label() -> str:
    """`git 2.39.5, git-lfs 3.3.0` from the binaries on PATH."""
    parts = []
    for cmd, prefix in ((["git", "--version"], "git version "), (["git", "lfs", "version"], "git-lfs/")):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except FileNotFoundError:
            out = ""
        name = "git" if cmd == ["git", "--version"] else "git-lfs"
        parts.append(f"{name} {out.removeprefix(prefix).split()[0]}" if out.startswith(prefix) else f"{name} missing")
    return ", ".join(parts)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside `path`, so concurrent runners (pytest-xdist workers) build each venv once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _pip(python: Path, *args: str, log: Path) -> None:
    # The main interpreter's pip installs into the target (`--python`): venvs need no pip of their own, which
    # saves ensurepip's ten seconds per venv.
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "--no-input", *args]
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=_clean_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed, see {log}:\n{log.read_text()[-3000:]}")


def _clean_env() -> dict[str, str]:
    """The environment minus anything that would point pip or python at the main venv."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_USER", "PIP_TARGET", "PIP_PREFIX"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _site_packages(venv: Path) -> Path:
    found = list((venv / "lib").glob("python3*/site-packages"))
    assert len(found) == 1, found
    return found[0]


def _new_venv(path: Path) -> Path:
    """A fresh isolated venv (no --system-site-packages, no pip) from the base interpreter."""
    if path.exists():
        shutil.rmtree(path)
    base = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(path)], check=True, env=_clean_env())
    return path / "bin" / "python"


def _torch_seed(root: Path) -> Path:
    """site-packages of a venv holding only torch and its dependencies, built once."""
    seed = root / "_torch-seed"
    marker = seed / MARKER
    with _locked(seed):
        if not marker.exists() or marker.read_text() != TORCH:
            python = _new_venv(seed)
            _torch_from_main(_site_packages(seed))  # then pip only adds torch's small dependencies
            _pip(python, "install", "-q", TORCH, log=root / "_torch-seed.log")
            marker.write_text(TORCH)
    return _site_packages(seed)


def _torch_from_main(site: Path) -> None:
    """Link the running interpreter's torch into `site` when it is the pinned release (the main venv has it):
    its installed files, dist-info included, so pip sees it installed. Copies across file systems."""
    try:
        dist = importlib.metadata.distribution("torch")
    except importlib.metadata.PackageNotFoundError:
        return
    if dist.version.split("+")[0] != TORCH.split("==")[1]:
        return
    for name in dist.files or []:
        src = Path(str(dist.locate_file(name)))
        if name.parts[0] == ".." or not src.is_file():  # console scripts live outside site-packages
            continue
        dst = site / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except FileExistsError:
            pass
        except OSError:
            shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link every file of src into dst (pip replaces files by unlink + create, so the seed stays intact)."""
    skip = {"pip", "setuptools", "_distutils_hack", "distutils-precedence.pth"}
    for entry in src.iterdir():
        if entry.name in skip or entry.name.startswith(("pip-", "setuptools-")):
            continue
        target = dst / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, copy_function=os.link, dirs_exist_ok=True)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(entry, target)


def ensure(gen: Generation, root: Path | None = None) -> Path:
    """The python of `gen`'s venv, building the venv first if it is missing or out of date (idempotent)."""
    if gen.system:
        return Path(sys.executable)
    root = root or venv_root()
    path = root / gen.name
    python = path / "bin" / "python"
    marker = path / MARKER
    with _locked(path):
        if marker.exists() and marker.read_text() == gen.spec_hash() and python.exists():
            return python
        log = root / f"{gen.name}.log"
        log.write_text("")
        python = _new_venv(path)
        if gen.torch:
            _link_tree(_torch_seed(root), _site_packages(path))
        pkgs = [*gen.packages, *([TORCH] if gen.torch else [])]
        _pip(python, "install", "-q", *pkgs, log=log)
        if gen.remove:
            _pip(python, "uninstall", "-q", "-y", *gen.remove, log=log)
        marker.write_text(gen.spec_hash())
    return python


def ensure_all(gens: list[Generation], jobs: int = 2) -> dict[str, Path]:
    """Build (or reuse) several venvs, `jobs` at a time; the torch seed is built once, before the rest.
    Returns the pythons of those that could be built; a failed build is reported on stderr (and raises again
    when that generation's scenarios call `ensure`), so one broken generation does not stop the others."""
    if any(g.torch for g in gens):
        _torch_seed(venv_root())
    ready: dict[str, Path] = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(ensure, g): g.name for g in gens}
        for fut in concurrent.futures.as_completed(futures):
            try:
                ready[futures[fut]] = fut.result()
            except (RuntimeError, subprocess.CalledProcessError) as e:
                print(f"venv {futures[fut]} could not be built: {e}", file=sys.stderr)
    return ready


def installed(python: Path) -> dict[str, str]:
    """name -> version of what a venv holds (lower-case, `-` as `_`)."""
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({d.metadata['Name'].lower().replace('-', '_'): d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, env=_clean_env())
    return json.loads(out.stdout)


def main() -> None:
    """`python -m compat.generations [NAME...]`: build (or check) the venvs and print what each holds."""
    names = sys.argv[1:] or [g.name for g in GENERATIONS]
    pythons = ensure_all([BY_NAME[n] for n in names])
    for name in names:
        gen = BY_NAME[name]
        if name not in pythons:
            continue
        python = pythons[name]
        if gen.system:
            print(f"{name:16} {git_label()}")
            continue
        have = installed(python)
        keys = ("huggingface_hub", "hf_xet", "transformers", "datasets", "sentence_transformers", "torch")
        print(f"{name:16} " + ", ".join(f"{k} {have[k]}" for k in keys if k in have), flush=True)


if __name__ == "__main__":
    main()
