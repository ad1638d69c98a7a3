"""The client-compatibility subset CI runs: for every client generation, the scenarios listed in its `ci`
(create + upload + download for each huggingface_hub generation, one transformers and one datasets scenario per
library generation, git + git-lfs). `python -m compat.run` runs the full matrix.

The generations' venvs are built on first use under $HAVEN_COMPAT_VENVS (default ~/.cache/haven/compat-venvs)
and reused by later runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compat.generations import GENERATIONS, ensure_all
from compat.harness import Context, run_cell, scenarios, seed
from tests.conftest import Hub

# The first test also pays for building the venvs on a fresh machine (several minutes: downloads, pip).
pytestmark = pytest.mark.timeout(1800)
SCENARIOS = {s.name: s for s in scenarios()}
CELLS = [(g, SCENARIOS[name]) for g in GENERATIONS for name in g.ci]


@pytest.fixture(scope="module")
def compat(sqlite_hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Context:
    """The fixture repositories every scenario reads, seeded once (over LFS and over Xet)."""
    ensure_all([g for g in GENERATIONS if g.ci])
    work: Path = tmp_path_factory.mktemp("compat")
    return seed(sqlite_hub.url, sqlite_hub.tokens, sqlite_hub.read_tokens, work)


@pytest.mark.parametrize(("gen", "scenario"), CELLS, ids=[f"{g.name}/{s.name}" for g, s in CELLS])
def test_client_generation(compat: Context, sqlite_hub: Hub, gen, scenario) -> None:  # type: ignore[no-untyped-def]
    result = run_cell(compat, gen, scenario)
    if result.status == "skip":
        pytest.skip(result.reason)
    assert result.status == "pass", (
        f"{gen.name} ({gen.label}) / {scenario.name}: {result.reason}\n"
        f"--- scenario log ---\n{result.log.read_text()[-6000:] if result.log else ''}\n"
        f"--- server log ---\n{sqlite_hub.server.logs()[-2000:]}"
    )
