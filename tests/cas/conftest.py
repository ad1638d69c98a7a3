"""Fixtures for the Xet CAS tests: the stock client with Xet enabled, in subprocesses."""

from __future__ import annotations

import os
from collections.abc import Iterator

import huggingface_hub.constants
import pytest

from tests.cas._xet import PROBE_DIR, Probe

# The in-process client was configured at import, with HF_HUB_DISABLE_XET=1 (tests/conftest.py): it stays the
# non-Xet client these tests compare against, whatever the subprocess environment becomes.
assert huggingface_hub.constants.HF_HUB_DISABLE_XET


@pytest.fixture(scope="module")
def xet_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    """Client subprocesses (run_script) get the stock environment: no HF_HUB_DISABLE_XET, so hf_xet is used.
    Only a call counter is added (probe/sitecustomize.py) to tell which transfer path the client took."""
    probe = Probe(tmp_path_factory.mktemp("probe") / "calls.jsonl")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HF_HUB_DISABLE_XET", raising=False)
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PROBE_DIR), os.environ.get("PYTHONPATH")])))
        mp.setenv("HAVEN_XET_PROBE", str(probe.path))
        yield probe
