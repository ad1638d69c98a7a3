"""Crafted pickles, built here with the standard library and torch: nothing in the tests unpickles them."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path


class RunsACommand:
    """Unpickling this calls os.system("echo") (the classic __reduce__ attack)."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo",))


class EvalsAnExpression:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (eval, ("1+1",))


def malicious_pickle(protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    return pickle.dumps({"state": RunsACommand()}, protocol=protocol)


def torch_style_zip(pickled: bytes) -> bytes:
    """A zip laid out as torch.save writes one (`archive/data.pkl` beside the raw tensor data)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", b"\0" * 64)
        z.writestr("archive/version", "3\n")
    return out.getvalue()


def torch_saves(folder: Path) -> dict[str, Path]:
    """Benign torch.save files: the zip format and the legacy (pre-1.6) format."""
    import torch

    state = {"weight": torch.randn(4, 4), "bias": torch.zeros(4, dtype=torch.float16)}
    paths = {"zip": folder / "benign.pt", "legacy": folder / "legacy.bin"}
    torch.save(state, paths["zip"])
    torch.save(state, paths["legacy"], _use_new_zipfile_serialization=False)
    return paths
