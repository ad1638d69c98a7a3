"""The pickle scanner reads opcodes only: what a pickle imports, and how dangerous each import is."""

from __future__ import annotations

import io
import pickle
import pickletools
import zipfile
from pathlib import Path

import pytest

from haven.scanning import pickles
from tests.trust.payloads import EvalsAnExpression, malicious_pickle, torch_saves, torch_style_zip


def _scan(data: bytes) -> dict:
    report = pickles.PickleScan()
    pickles.scan_stream(io.BytesIO(data), report)
    return report.as_json()


def _dangerous(result: dict) -> set[str]:
    return {f"{i['module']}.{i['name']}" for i in result["imports"] if i["safety"] == "dangerous"}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_os_system_is_dangerous_in_every_protocol(protocol: int) -> None:
    result = _scan(malicious_pickle(protocol))
    assert result["highestSafetyLevel"] == "dangerous"
    assert _dangerous(result) & {"posix.system", "nt.system", "os.system"}


def test_builtins_eval_is_dangerous() -> None:
    result = _scan(pickle.dumps(EvalsAnExpression(), protocol=4))
    assert _dangerous(result) == {"builtins.eval"}


def test_stack_global_names_fetched_from_the_memo_are_resolved() -> None:
    # "subprocess" and "Popen" are memoised, then fetched back with BINGET before STACK_GLOBAL.
    data = (
        b"\x80\x04"
        + b"\x8c\nsubprocess\x94"  # SHORT_BINUNICODE + MEMOIZE (memo 0)
        + b"\x8c\x05Popen\x94"  # memo 1
        + b"00"  # POP twice: the stack no longer holds them
        + b"h\x00h\x01"  # BINGET 0, BINGET 1
        + b"\x93"  # STACK_GLOBAL
        + b"."
    )
    pickletools.dis(data, out=io.StringIO())  # a well-formed pickle
    assert _dangerous(_scan(data)) == {"subprocess.Popen"}


def test_a_name_computed_at_load_time_is_dangerous() -> None:
    # STACK_GLOBAL over values that are not string pushes (here: the results of other calls).
    data = b"\x80\x04" + b"\x8c\x08builtins\x8c\x03str\x93)R" + b"\x8c\x08builtins\x8c\x03str\x93)R" + b"\x93."
    result = _scan(data)
    assert result["highestSafetyLevel"] == "dangerous"
    assert {"module": "<unknown>", "name": "<computed>", "safety": "dangerous"} in result["imports"]


def test_unknown_imports_are_suspicious_not_dangerous() -> None:
    data = pickle.dumps(Path("x"), protocol=2)  # pathlib is on the dangerous list: file access
    assert _scan(data)["highestSafetyLevel"] == "dangerous"
    data = b"\x80\x02cfractions\nFraction\nq\x00X\x03\x00\x00\x001/2q\x01\x85q\x02Rq\x03."
    result = _scan(data)
    assert result["highestSafetyLevel"] == "suspicious"
    assert result["imports"] == [{"module": "fractions", "name": "Fraction", "safety": "suspicious"}]


def test_benign_torch_saves_are_innocuous(tmp_path: Path) -> None:
    paths = torch_saves(tmp_path)
    with zipfile.ZipFile(paths["zip"]) as archive:
        report = pickles.PickleScan()
        for info in pickles.pickle_members(archive):
            pickles.scan_stream(archive.open(info), report)
    assert report.highest == "innocuous"
    assert ("torch._utils", "_rebuild_tensor_v2") in report.imports
    legacy = _scan(paths["legacy"].read_bytes())  # five pickles in a row, then raw tensor bytes
    assert legacy["highestSafetyLevel"] == "innocuous"
    assert {"module": "torch", "name": "HalfStorage", "safety": "innocuous"} in legacy["imports"]


def test_the_pickle_inside_a_torch_style_zip_is_found() -> None:
    with zipfile.ZipFile(io.BytesIO(torch_style_zip(malicious_pickle()))) as archive:
        members = pickles.pickle_members(archive)
        assert [m.filename for m in members] == ["archive/data.pkl"]
        report = pickles.PickleScan()
        pickles.scan_stream(archive.open(members[0]), report)
    assert report.highest == "dangerous"


def test_bytes_that_are_not_a_pickle_are_reported_not_imported() -> None:
    report = pickles.PickleScan()
    pickles.scan_stream(io.BytesIO(b"GGUF\x03\x00\x00\x00 binary weights"), report)
    assert report.imports == {} and report.errors


def test_a_zip_bomb_stops_at_the_inflation_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from haven.scanning import scan

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        # A valid pickle that is mostly one huge string: 20 MB inflated from a few kB.
        z.writestr("archive/data.pkl", b"\x80\x04\x8e" + (20_000_000).to_bytes(8, "little") + b"a" * 20_000_000 + b".")
    data = out.getvalue()
    assert len(data) < 100_000

    class Source:
        size = len(data)

        def read(self, offset: int, n: int) -> bytes:
            return data[offset : offset + n]

    monkeypatch.setattr(scan, "MAX_PICKLE", 1_000_000)
    report = scan._pickle_scan(Source(), "bomb.pt", data[:8192])  # type: ignore[arg-type]
    assert report is not None and report.highest == "suspicious"
    assert any("larger than a scan reads" in e for e in report.errors)


def _scan_file(path: str, data: bytes) -> dict | None:
    from haven.scanning import scan

    class Source:
        size = len(data)

        def read(self, offset: int, n: int) -> bytes:
            return data[offset : offset + n]

    report = scan._pickle_scan(Source(), path, data[:8192])  # type: ignore[arg-type]
    return report.as_json() if report is not None else None


def test_numpy_object_arrays_are_pickles_and_are_scanned() -> None:
    import numpy as np

    from tests.trust.payloads import RunsACommand

    evil = np.empty(1, dtype=object)
    evil[0] = RunsACommand()
    buf = io.BytesIO()
    np.save(buf, evil, allow_pickle=True)
    assert _dangerous(_scan_file("arr.npy", buf.getvalue()) or {}) & {"posix.system", "nt.system"}
    bundle = io.BytesIO()
    np.savez(bundle, fine=np.arange(4), evil=evil)
    assert _dangerous(_scan_file("arrays.npz", bundle.getvalue()) or {}) & {"posix.system", "nt.system"}
    plain = io.BytesIO()
    np.save(plain, np.arange(10.0))
    assert _scan_file("plain.npy", plain.getvalue()) is None
    plain_bundle = io.BytesIO()
    np.savez(plain_bundle, a=np.arange(3))
    assert _scan_file("plain.npz", plain_bundle.getvalue()) is None
