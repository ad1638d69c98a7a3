"""Running scenarios: a seeded Haven, then one subprocess per (generation, scenario) in the generation's venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from compat.generations import HUB_SCENARIOS, Generation, ensure, installed

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
MARKER = "COMPAT-RESULT:"
ORDER = (
    *HUB_SCENARIOS,
    "transformers_model",
    "sentence_transformers_model",
    "datasets_load",
    "datasets_push",
    "git_lfs",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    requires: tuple[str, ...]  # distributions the venv must hold, or "git" for the system git generation
    summary: str


def scenarios() -> list[Scenario]:
    found = []
    for name in ORDER:
        path = SCENARIO_DIR / f"{name}.py"
        text = path.read_text()
        match = re.search(r"^# requires: (.+)$", text, re.M)
        requires = tuple(r.strip() for r in match.group(1).split(",")) if match else ()
        summary = text.split('"""')[1].strip().splitlines()[0]
        found.append(Scenario(name, path, requires, summary))
    return found


@dataclass
class Result:
    status: str  # pass | fail | skip | n/a
    reason: str = ""
    seconds: float = 0.0
    log: Path | None = None


@dataclass
class Context:
    """A running, seeded hub: its URL and the fixture manifest (which holds every user's tokens)."""

    endpoint: str
    manifest: Path
    work: Path

    @property
    def users(self) -> dict[str, dict[str, str]]:
        return json.loads(self.manifest.read_text())["users"]


def base_env(endpoint: str, home: Path) -> dict[str, str]:
    """A clean environment for a client: nothing inherited that names the main venv or a real hub token."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SSL_CERT_FILE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        {
            "HOME": str(home),
            "HF_ENDPOINT": endpoint,
            "HF_HOME": str(home / "hf-home"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "DISABLE_SAFETENSORS_CONVERSION": "1",  # transformers would send the token to an outside service
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def seed(endpoint: str, tokens: dict[str, str], read_tokens: dict[str, str], work: Path) -> Context:
    """Seed the fixtures (compat/seed.py, the main venv's client): once over LFS, once over Xet."""
    work.mkdir(parents=True, exist_ok=True)
    users = {u: {"token": tokens[u], "read_token": read_tokens[u]} for u in tokens}
    (work / "users.json").write_text(json.dumps(users))
    manifest = work / "fixtures.json"
    for xet in (False, True):
        env = base_env(endpoint, work / "seed-home")
        if not xet:
            env["HF_HUB_DISABLE_XET"] = "1"
        cmd = [
            sys.executable,
            str(Path(__file__).with_name("seed.py")),
            str(manifest),
            "--users",
            str(work / "users.json"),
        ]
        proc = subprocess.run([*cmd, *(["--xet"] if xet else [])], env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"seeding failed (xet={xet}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return Context(endpoint, manifest, work)


def _satisfied(requirement: str, have: dict[str, str]) -> bool:
    """`dist` or `dist<X.Y` against a venv's installed distributions; `git-binary` is checked by the scenario."""
    if requirement == "git-binary":
        return True
    name, _, bound = requirement.partition("<")
    if name not in have:
        return False
    if not bound:
        return True

    def key(v: str) -> tuple[int, ...]:
        return tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in v.split("+")[0].split("."))

    return key(have[name]) < key(bound)


def applies(scenario: Scenario, gen: Generation, have: dict[str, str]) -> bool:
    """Whether a scenario runs for a generation (`git`: only the system git generation runs it)."""
    if gen.scenarios is not None and scenario.name not in gen.scenarios:
        return False
    if gen.system:
        return "git" in scenario.requires
    return "git" not in scenario.requires and all(_satisfied(r, have) for r in scenario.requires)


def run_cell(ctx: Context, gen: Generation, scenario: Scenario, timeout: float = 900) -> Result:
    """Run one scenario script with the generation's interpreter; its log goes to <work>/logs/<gen>/<scenario>.log."""
    python = ensure(gen)
    cell = ctx.work / "cells" / gen.name / scenario.name
    shutil.rmtree(cell, ignore_errors=True)
    (cell / "work").mkdir(parents=True)
    log = ctx.work / "logs" / gen.name / f"{scenario.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = base_env(ctx.endpoint, cell)
    env["PATH"] = f"{python.parent}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(
        {
            "HF_TOKEN": ctx.users["alice"]["token"],
            "COMPAT_FIXTURES": str(ctx.manifest),
            "COMPAT_WORK": str(cell / "work"),
            "COMPAT_ID": f"{gen.name.replace('.', '')}-{uuid.uuid4().hex[:6]}",
        }
    )
    env.update(gen.env)
    start = time.monotonic()
    with open(log, "w") as out:
        out.write(f"# {gen.name} ({gen.label}) / {scenario.name}\n")
        out.flush()
        try:
            proc = subprocess.run(
                [str(python), str(scenario.path)],
                cwd=cell,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = time.monotonic() - start
    text = log.read_text(errors="replace")
    shutil.rmtree(cell, ignore_errors=True)
    for line in reversed(text.splitlines()):
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
            return Result(result["status"], result["reason"], seconds, log)
    steps = [line[4:] for line in text.splitlines() if line.startswith("--- ")]
    where = steps[-1] if steps else "start"
    if code is None:
        return Result("fail", f"{where}: timed out after {timeout:.0f} s", seconds, log)
    last = next((line for line in reversed(text.splitlines()) if line.strip()), "")
    return Result("fail", f"{where}: exited {code}: {last[:300]}", seconds, log)


def packages_of(gen: Generation) -> dict[str, str]:
    return {} if gen.system else installed(ensure(gen))
