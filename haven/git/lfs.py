"""Git LFS pointer files, and the `.gitattributes` rules that decide which paths become pointers."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache

POINTER_VERSION = "https://git-lfs.github.com/spec/v1"
MAX_POINTER_SIZE = 1024
_POINTER_RE = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\n(?:[a-z0-9.-]+ [^\n]*\n)*?oid sha256:([0-9a-f]{64})\n"
    rb"size (\d+)\n(?:[a-z0-9.-]+ [^\n]*\n)*$"
)


@dataclass(frozen=True, slots=True)
class Pointer:
    oid: str  # sha256 hex of the content
    size: int

    def encode(self) -> bytes:
        return f"version {POINTER_VERSION}\noid sha256:{self.oid}\nsize {self.size}\n".encode()


def parse_pointer(data: bytes) -> Pointer | None:
    """The pointer a blob holds, or None if it is ordinary content."""
    if len(data) > MAX_POINTER_SIZE or not data.startswith(b"version "):
        return None
    m = _POINTER_RE.match(data)
    return Pointer(m.group(1).decode(), int(m.group(2))) if m else None


_LFS_EXTENSIONS = [
    "7z",
    "arrow",
    "bin",
    "bz2",
    "ckpt",
    "ftz",
    "gguf",
    "gz",
    "h5",
    "joblib",
    "lz4",
    "mlmodel",
    "model",
    "msgpack",
    "npy",
    "npz",
    "onnx",
    "ot",
    "parquet",
    "pb",
    "pickle",
    "pkl",
    "pt",
    "pth",
    "rar",
    "safetensors",
    "tar",
    "tflite",
    "tgz",
    "wasm",
    "xz",
    "zip",
    "zst",
]
_DATASET_EXTENSIONS = [
    "mds",
    "pcm",
    "sam",
    "raw",
    "aac",
    "flac",
    "mp3",
    "ogg",
    "wav",
    "bmp",
    "gif",
    "png",
    "tiff",
    "jpg",
    "jpeg",
    "webp",
    "mp4",
    "webm",
]


def default_gitattributes(repo_type: str) -> str:
    """The `.gitattributes` every new repository starts with, in the Hub's spirit."""
    attrs = " filter=lfs diff=lfs merge=lfs -text"
    patterns = [f"*.{ext}" for ext in _LFS_EXTENSIONS]
    patterns += ["*.lfs.*", "*.tar.*", "saved_model/**/*", "*tfevents*"]
    if repo_type == "dataset":
        patterns += [f"*.{ext}" for ext in _DATASET_EXTENSIONS]
    return "".join(p + attrs + "\n" for p in sorted(patterns))


@dataclass(frozen=True)
class LfsRules:
    """The filter=lfs patterns of a `.gitattributes` file, matched as git does (last match wins)."""

    rules: tuple[tuple[re.Pattern[str], bool, bool], ...]  # (regex, anchored-to-path, is_lfs)

    def matches(self, path: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        result = False
        for regex, full_path, is_lfs in self.rules:
            if regex.match(path if full_path else name):
                result = is_lfs
        return result


@lru_cache(maxsize=256)
def parse_gitattributes(text: str) -> LfsRules:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, *attrs = line.split()
        if "filter=lfs" in attrs:
            is_lfs = True
        elif "-filter" in attrs or "!filter" in attrs or any(a.startswith("filter=") for a in attrs):
            is_lfs = False
        else:
            continue
        full_path = "/" in pattern.rstrip("/")
        rules.append((_wildmatch(pattern.lstrip("/")), full_path, is_lfs))
    return LfsRules(tuple(rules))


def _wildmatch(pattern: str) -> re.Pattern[str]:
    """Translate a gitattributes glob: `**` crosses directories, `*` and `?` do not."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(fnmatch.translate(pattern[i : end + 1])[4:-3])
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")
