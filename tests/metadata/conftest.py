"""Helpers for the metadata tests: model files with known contents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save


def safetensors_bytes(shapes: dict[str, tuple[tuple[int, ...], Any]]) -> bytes:
    """A real safetensors file with tensors of the given (shape, numpy dtype)."""
    return save({name: np.zeros(shape, dtype) for name, (shape, dtype) in shapes.items()})


def gguf_bytes(tmp: Path, *, context_length: int = 2048, arch: str = "llama") -> bytes:
    """A small GGUF file written by the `gguf` package: two F16/F32 tensors (4x8 + 64 = 96 parameters)."""
    import gguf

    path = tmp / "model.gguf"
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_context_length(context_length)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_name("tiny")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["<s>", "</s>", "hello"])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float16))
    writer.add_tensor("output_norm.weight", np.zeros((64,), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()
