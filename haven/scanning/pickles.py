"""Listing the globals a pickle imports by walking its opcodes (pickletools.genops): nothing is ever
unpickled, so a malicious file cannot run while it is being judged.

A pickle names a callable with GLOBAL/INST ("module name" in the opcode's argument) or STACK_GLOBAL
(module and name pushed as strings just before, possibly fetched from the memo). Each import gets a
safety level: "innocuous" (what torch, numpy and collections need to rebuild tensors and containers),
"dangerous" (code execution, files, network, processes) or "suspicious" (anything else)."""

from __future__ import annotations

import pickletools
import re
import zipfile
from dataclasses import dataclass, field
from typing import IO, Any

INNOCUOUS, SUSPICIOUS, DANGEROUS = "innocuous", "suspicious", "dangerous"
RANK = {INNOCUOUS: 0, SUSPICIOUS: 1, DANGEROUS: 2}
MAX_PICKLES = 8  # pickles read one after another (legacy torch files hold five before the raw tensors)
MAX_IMPORTS = 200  # distinct imports kept per file
PICKLE_MEMBER_SUFFIXES = (".pkl", ".pickle")

DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "runpy",
        "socket",
        "shutil",
        "sys",
        "pty",
        "webbrowser",
        "commands",
        "popen2",
        "platform",
        "importlib",
        "ctypes",
        "code",
        "codeop",
        "marshal",
        "pickle",
        "_pickle",
        "dill",
        "cloudpickle",
        "multiprocessing",
        "asyncio",
        "threading",
        "_thread",
        "signal",
        "requests",
        "httpx",
        "urllib",
        "urllib2",
        "http",
        "ftplib",
        "telnetlib",
        "smtplib",
        "pdb",
        "bdb",
        "timeit",
        "tempfile",
        "pathlib",
        "glob",
        "io",
        "_io",
        "fileinput",
        "zipimport",
        "pip",
        "setuptools",
        "site",
        "sysconfig",
        "builtins.__loader__",
        "numpy.testing",
        "torch.hub",
        "torch.serialization",
        "torch.jit",
        "torch.package",
        "_posixsubprocess",
        "_osx_support",
        "distutils",
        "aiohttp",
    }
)
DANGEROUS_BUILTINS = frozenset(
    {
        "eval",
        "exec",
        "execfile",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "__import__",
        "open",
        "file",
        "globals",
        "locals",
        "vars",
        "input",
        "breakpoint",
        "apply",
        "reload",
        "exit",
        "quit",
    }
)
INNOCUOUS_BUILTINS = frozenset(
    {
        "set",
        "frozenset",
        "dict",
        "list",
        "tuple",
        "slice",
        "complex",
        "bytearray",
        "bytes",
        "range",
        "int",
        "float",
        "str",
        "bool",
        "NoneType",
        "Ellipsis",
    }
)
INNOCUOUS_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
        ("collections", "Counter"),
        ("_codecs", "encode"),
        ("copyreg", "_reconstructor"),
        ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_tensor_v3"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"),
        ("torch._utils", "_rebuild_qtensor"),
        ("torch._utils", "_rebuild_sparse_tensor"),
        ("torch._utils", "_rebuild_device_tensor_from_numpy"),
        ("torch._utils", "_rebuild_meta_tensor_no_storage"),
        ("torch._utils", "_rebuild_wrapper_subclass"),
        ("torch._tensor", "_rebuild_from_type_v2"),
        ("torch", "Size"),
        ("torch", "device"),
        ("torch", "Tensor"),
        ("torch.nn.parameter", "Parameter"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
    }
)
TORCH_DTYPES = frozenset(
    {"float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool", "half",
     "float", "double", "long", "int", "short", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2"}
)  # fmt: skip
STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
)
PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})


class PickleError(ValueError):
    """The bytes are not a readable pickle (or hide their imports)."""


@dataclass
class PickleScan:
    """The imports found in one file, each once, with the highest safety level among them."""

    imports: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, module: str, name: str) -> None:
        if len(self.imports) < MAX_IMPORTS or (module, name) in self.imports:
            self.imports[(module, name)] = safety(module, name)

    @property
    def highest(self) -> str:
        levels = list(self.imports.values()) + ([SUSPICIOUS] if self.errors else [])
        return max(levels, key=RANK.__getitem__, default=INNOCUOUS)

    def as_json(self) -> dict[str, Any]:
        """The Hub's `pickleImportScan` shape."""
        out: dict[str, Any] = {
            "highestSafetyLevel": self.highest,
            "imports": [{"module": m, "name": n, "safety": s} for (m, n), s in sorted(self.imports.items())],
        }
        if self.errors:
            out["errors"] = self.errors[:5]
        return out


def safety(module: str, name: str) -> str:
    """How dangerous importing `module.name` while unpickling is."""
    root = module.split(".", 1)[0]
    if module in ("builtins", "__builtin__", "__builtins__"):
        if name in INNOCUOUS_BUILTINS:
            return INNOCUOUS
        return DANGEROUS if name in DANGEROUS_BUILTINS or name.startswith("_") else SUSPICIOUS
    if root in DANGEROUS_MODULES or module in DANGEROUS_MODULES or _under(module, DANGEROUS_MODULES):
        return DANGEROUS
    if (module, name) in INNOCUOUS_GLOBALS:
        return INNOCUOUS
    if module == "torch" and (name.endswith("Storage") or name in TORCH_DTYPES):
        return INNOCUOUS
    if root == "operator" and name in ("attrgetter", "methodcaller"):
        return DANGEROUS  # reach any attribute of any object built earlier
    return SUSPICIOUS


def _under(module: str, prefixes: frozenset[str]) -> bool:
    return any(module.startswith(p + ".") for p in prefixes)


def scan_stream(stream: IO[bytes], report: PickleScan) -> None:
    """Record the imports of the pickles at the start of `stream` (one after another, like torch's legacy
    format); stops at the first bytes that are not a pickle."""
    for index in range(MAX_PICKLES):
        try:
            found = _scan_one(stream, report)
        except PickleError as e:
            if index == 0:
                report.errors.append(str(e))
            return
        if not found:
            return


def _scan_one(stream: IO[bytes], report: PickleScan) -> bool:
    """One pickle up to its STOP; False when the stream is at its end."""
    recent: list[str | None] = []  # what the last opcodes pushed, when it was a string
    memo: dict[int, str | None] = {}
    seen = False
    try:
        for op, arg, _pos in pickletools.genops(stream):
            seen = True
            name = op.name
            if name in STRING_OPS:
                recent.append(arg if isinstance(arg, str) else None)
            elif name in PUT_OPS or name == "MEMOIZE":
                memo[arg if name in PUT_OPS else len(memo)] = recent[-1] if recent else None
            elif name in GET_OPS:
                recent.append(memo.get(arg))
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                report.add(module, attr)
                recent.append(None)
            elif name == "STACK_GLOBAL":
                module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                if module is None or attr is None:
                    report.add("<unknown>", "<computed>")  # a name built at load time hides what it imports
                    report.imports[("<unknown>", "<computed>")] = DANGEROUS
                else:
                    report.add(module, attr)
                recent.append(None)
            elif name not in ("FRAME", "PROTO"):
                recent.append(None)
            del recent[:-4]
    except (ValueError, EOFError, UnicodeDecodeError, KeyError) as e:
        if not seen:
            return False if _at_end(e) else _raise(e)
        raise PickleError(f"unreadable pickle: {e}") from None
    return seen


def _at_end(e: Exception) -> bool:
    return "at end of input" in str(e) or isinstance(e, EOFError)


def _raise(e: Exception) -> bool:
    raise PickleError(f"not a pickle: {e}") from None


NPY_MAGIC = b"\x93NUMPY"
NPY_OBJECT = re.compile(rb"'\|?O'")  # an object dtype, alone or in a structured dtype


def npy_pickle_offset(head: bytes) -> int | None:
    """Where the pickle in a NumPy .npy file with object dtype starts (np.load(allow_pickle=True) unpickles
    it); None for other files, including .npy files of plain numbers."""
    if not head.startswith(NPY_MAGIC) or len(head) < 12:
        return None
    size_bytes = 2 if head[6] == 1 else 4
    start = 8 + size_bytes
    end = start + int.from_bytes(head[8:start], "little")
    header = head[start:end]
    if len(header) < end - start:
        return start  # a header longer than what was read: scan from there, let the pickle reader judge
    return end if NPY_OBJECT.search(header) else None


def is_zip(head: bytes) -> bool:
    return head[:4] == b"PK\x03\x04"


def pickle_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The pickles inside a zip archive (torch.save writes `<name>/data.pkl`; np.savez `<name>.npy`)."""
    suffixes = (*PICKLE_MEMBER_SUFFIXES, ".npy")
    return [i for i in archive.infolist() if i.filename.endswith(suffixes) and not i.is_dir()]
