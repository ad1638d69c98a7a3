"""model_info answers what the metadata job read from a model's files: safetensors parameter counts (single
file, sharded, Xet-stored), GGUF summaries, config and transformersInfo; corrupt files are reported, not fatal."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.hf_api import SafeTensorsInfo, TransformersInfo

from tests.conftest import Hub
from tests.metadata.conftest import gguf_bytes, safetensors_bytes
from tests.support import wait_for

BERT_CONFIG = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_size": 8}


def _commit(hub: Hub, repo_id: str, files: dict[str, bytes], message: str = "files") -> str:
    ops = [CommitOperationAdd(path, data) for path, data in files.items()]
    return hub.api("alice").create_commit(repo_id, ops, commit_message=message).oid


def _expanded(hub: Hub, repo_id: str, field: str, expand: list[str] | None = None):  # type: ignore[no-untyped-def]
    """model_info once the job has filled `field` (an attribute of ModelInfo)."""
    api = hub.api("alice")
    return wait_for(
        lambda: (info := api.model_info(repo_id, expand=expand or [field])) and getattr(info, field) and info
    )


def test_safetensors_parameters_per_dtype(hub: Hub, repo_id: str) -> None:
    weights = safetensors_bytes(
        {"embed": ((10, 4), np.float32), "head": ((4, 3), np.float16), "bias": ((3,), np.float32)}
    )
    _commit(hub, repo_id, {"model.safetensors": weights, "config.json": json.dumps(BERT_CONFIG).encode()})
    info = _expanded(hub, repo_id, "safetensors")
    assert isinstance(info.safetensors, SafeTensorsInfo)
    assert info.safetensors.parameters == {"F32": 43, "F16": 12}
    assert info.safetensors.total == 55
    assert info.siblings is None  # only what expand asked for


def test_default_model_info_carries_the_computed_fields(hub: Hub, repo_id: str) -> None:
    weights = safetensors_bytes({"w": ((6, 7), np.float32)})
    files = {
        "model.safetensors": weights,
        "config.json": json.dumps(BERT_CONFIG).encode(),
        "tokenizer_config.json": json.dumps({"bos_token": "[CLS]", "eos_token": "[SEP]"}).encode(),
    }
    sha = _commit(hub, repo_id, files)
    info = wait_for(lambda: (i := hub.api(None).model_info(repo_id)).safetensors and i)
    assert info.sha == sha
    assert info.safetensors.total == 42
    assert info.config["architectures"] == ["BertForSequenceClassification"]
    assert info.config["model_type"] == "bert"
    assert info.config["tokenizer_config"] == {"bos_token": "[CLS]", "eos_token": "[SEP]"}
    assert isinstance(info.transformers_info, TransformersInfo)
    assert info.transformers_info.auto_model == "AutoModelForSequenceClassification"
    assert info.transformers_info.pipeline_tag == "text-classification"
    assert info.transformers_info.processor == "AutoTokenizer"
    # Without a card, library and task come from config.json, at once (not by the job).
    assert (info.library_name, info.pipeline_tag) == ("transformers", "text-classification")
    assert {"transformers", "safetensors", "bert", "text-classification"} <= set(info.tags)


def test_sharded_safetensors_are_summed_from_the_index(hub: Hub, repo_id: str) -> None:
    one = safetensors_bytes({"a": ((100, 10), np.float32)})
    two = safetensors_bytes({"b": ((50,), np.float16), "c": ((7, 7), np.float32)})
    index = {
        "metadata": {"total_size": len(one) + len(two)},
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
            "c": "model-00002-of-00002.safetensors",
        },
    }
    files = {
        "model-00001-of-00002.safetensors": one,
        "model-00002-of-00002.safetensors": two,
        "model.safetensors.index.json": json.dumps(index).encode(),
        "stray.safetensors": safetensors_bytes({"x": ((1000,), np.float32)}),  # not in the index: not counted
    }
    _commit(hub, repo_id, files)
    info = _expanded(hub, repo_id, "safetensors")
    assert info.safetensors.parameters == {"F32": 1049, "F16": 50}
    assert info.safetensors.total == 1099


def test_gguf_summary(hub: Hub, repo_id: str, tmp_path: Path) -> None:
    data = gguf_bytes(tmp_path, context_length=4096)
    _commit(hub, repo_id, {"tiny-F16.gguf": data})
    info = _expanded(hub, repo_id, "gguf")
    assert info.gguf["total"] == 96
    assert info.gguf["architecture"] == "llama"
    assert info.gguf["context_length"] == 4096
    assert info.gguf["file_type"] == "F16"
    assert info.gguf["size"] == len(data)
    assert info.gguf["bos_token"] == "<s>" and info.gguf["eos_token"] == "</s>"
    assert info.gguf["chat_template"].startswith("{% for m in messages %}")
    assert list(info.gguf["files"]) == ["tiny-F16.gguf"]
    full = hub.api(None).model_info(repo_id)
    assert full.library_name == "gguf" and "gguf" in full.tags


CORRUPT = {
    "absurd-header.safetensors": struct.pack("<Q", 1 << 60) + b"{}",
    "past-the-end.safetensors": (lambda h: struct.pack("<Q", len(h)) + h + bytes(8))(
        b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    ),
    "not-json.safetensors": struct.pack("<Q", 4) + b"\xff\xfe{[",
    "billion-strings.gguf": b"GGUF"
    + struct.pack("<IQQ", 3, 0, 1)
    + struct.pack("<Q", 3)
    + b"key"
    + struct.pack("<IIQ", 9, 8, 1 << 40),
    "huge-key.gguf": b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1 << 62),
}


def test_corrupt_and_lying_headers_are_reported_not_fatal(hub: Hub, repo_id: str) -> None:
    good = safetensors_bytes({"ok": ((3, 3), np.float32)})
    _commit(hub, repo_id, {**CORRUPT, "good.safetensors": good})
    info = _expanded(hub, repo_id, "safetensors", ["safetensors", "gguf"])
    assert info.safetensors.total == 9  # the good file still counts
    assert info.gguf is None
    errors = hub.api("alice").model_info(repo_id).metadataErrors
    assert set(errors) == set(CORRUPT)
    assert "larger than" in errors["absurd-header.safetensors"]
    assert "outside" in errors["past-the-end.safetensors"]
    assert "cannot fit" in errors["billion-strings.gguf"]
    # The server is fine, and the next commit is described as usual.
    _commit(hub, repo_id, {"good.safetensors": safetensors_bytes({"ok": ((5,), np.float32)})})
    wait_for(lambda: (s := hub.api("alice").model_info(repo_id, expand=["safetensors"]).safetensors) and s.total == 5)


def test_metadata_follows_main_not_other_revisions(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    first = _commit(hub, repo_id, {"model.safetensors": safetensors_bytes({"w": ((2,), np.float32)})})
    wait_for(lambda: api.model_info(repo_id, expand=["safetensors"]).safetensors)
    api.create_branch(repo_id, branch="dev")
    api.create_commit(
        repo_id,
        [CommitOperationAdd("model.safetensors", safetensors_bytes({"w": ((8,), np.float32)}))],
        commit_message="dev weights",
        revision="dev",
    )
    assert api.model_info(repo_id).safetensors.total == 2
    assert api.model_info(repo_id, revision=first).safetensors.total == 2
    assert api.model_info(repo_id, revision="dev").safetensors is None  # computed for main's head only


@pytest.mark.parametrize("hub", ["sqlite"], indirect=True)
def test_xet_stored_safetensors_header_is_read_from_its_chunks(
    hub: Hub, repo_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A safetensors file uploaded through Xet (hf_xet) is read by rebuilding only its first chunks."""
    pytest.importorskip("hf_xet")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    weights = safetensors_bytes({"big": ((1024, 1024), np.float32), "small": ((3,), np.float16)})  # 4 MB
    api = hub.api("alice")
    api.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=repo_id)
    assert api.get_paths_info(repo_id, ["model.safetensors"])[0].xet_hash  # really stored as Xet
    info = _expanded(hub, repo_id, "safetensors")
    assert info.safetensors.parameters == {"F32": 1024 * 1024, "F16": 3}


def test_a_git_push_to_main_is_described_too(hub: Hub, repo_id: str, tmp_path: Path) -> None:
    import subprocess

    from tests.git.conftest import url

    env = {"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"}

    def git(*args: str, cwd: Path | None = None) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=cwd,
            env=env,
            check=True,
            capture_output=True,
        )

    work = tmp_path / "w"
    git("clone", "-q", url(hub, repo_id, "alice"), str(work))
    (work / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}))
    (work / "model.safetensors").write_bytes(safetensors_bytes({"w": ((11,), np.float32)}))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "pushed", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    info = _expanded(hub, repo_id, "safetensors", ["safetensors", "transformersInfo", "pipeline_tag"])
    assert info.safetensors.total == 11
    assert info.transformers_info.auto_model == "AutoModelForCausalLM"
    assert info.pipeline_tag == "text-generation"


def test_split_gguf_parts_are_summed(hub: Hub, repo_id: str, tmp_path: Path) -> None:
    part = gguf_bytes(tmp_path)
    _commit(hub, repo_id, {"m-00001-of-00002.gguf": part, "m-00002-of-00002.gguf": part, "other-Q8_0.gguf": part})
    info = _expanded(hub, repo_id, "gguf")
    assert (info.gguf["total"], info.gguf["size"], info.gguf["parts"]) == (192, 2 * len(part), 2)
    assert sorted(info.gguf["files"]) == ["m-00001-of-00002.gguf", "m-00002-of-00002.gguf", "other-Q8_0.gguf"]
    assert info.gguf["files"]["other-Q8_0.gguf"]["total"] == 96
