"""Cards: the README's front matter becomes cardData; tags, library and task are derived as the Hub does,
completed from the files when the card is silent; broken or hostile front matter never breaks a commit."""

from __future__ import annotations

import base64
import json
import time

import httpx
import orjson
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub

CARD = """---
license: apache-2.0
language:
- en
- fr
tags:
- summarisation
datasets:
- acme/news
metrics:
- rouge
base_model: acme/base-7b
base_model_relation: finetune
pipeline_tag: summarization
library_name: transformers
widget:
- text: "Summarise this please."
model-index:
- name: tiny-sum
  results:
  - task: {type: summarization}
    dataset: {name: news, type: acme/news}
    metrics:
    - {type: rouge1, value: 41.2}
---
# tiny-sum
"""


def _commit(hub: Hub, repo_id: str, files: dict[str, bytes], repo_type: str = "model") -> str:
    ops = [CommitOperationAdd(path, data) for path, data in files.items()]
    return hub.api("alice").create_commit(repo_id, ops, commit_message="files", repo_type=repo_type).oid


def _raw_commit(hub: Hub, repo_id: str, files: dict[str, bytes]) -> httpx.Response:
    """A commit straight to the endpoint, skipping the client's validate-yaml check (as git pushes do)."""
    lines = [{"key": "header", "value": {"summary": "raw"}}] + [
        {"key": "file", "value": {"path": p, "content": base64.b64encode(d).decode(), "encoding": "base64"}}
        for p, d in files.items()
    ]
    return httpx.post(
        f"{hub.url}/api/models/{repo_id}/commit/main",
        content=b"\n".join(orjson.dumps(line) for line in lines),
        headers={"authorization": f"Bearer {hub.tokens['alice']}", "content-type": "application/x-ndjson"},
        timeout=60,
    )


def test_card_fields_and_derived_tags(hub: Hub, repo_id: str) -> None:
    _commit(hub, repo_id, {"README.md": CARD.encode()})
    info = hub.api(None).model_info(repo_id)
    card = info.card_data
    assert card.license == "apache-2.0" and card.language == ["en", "fr"]
    assert card.datasets == ["acme/news"] and card.metrics == ["rouge"]
    assert card.base_model == "acme/base-7b"
    assert card.eval_results[0].metric_value == 41.2  # model-index, parsed by the client
    assert info.model_index[0]["name"] == "tiny-sum"
    assert info.widget_data == [{"text": "Summarise this please."}]
    assert (info.library_name, info.pipeline_tag) == ("transformers", "summarization")
    assert {
        "summarisation",
        "transformers",
        "summarization",
        "license:apache-2.0",
        "en",
        "fr",
        "dataset:acme/news",
        "base_model:acme/base-7b",
        "base_model:finetune:acme/base-7b",
    } <= set(info.tags)
    assert not any(t.startswith("region:") for t in info.tags)


def test_list_models_expand_card_data(hub: Hub, repo_id: str) -> None:
    _commit(hub, repo_id, {"README.md": CARD.encode()})
    (item,) = hub.api(None).list_models(search=repo_id.split("/")[1], expand=["cardData", "tags"])
    assert item.card_data.license == "apache-2.0"
    assert "base_model:finetune:acme/base-7b" in item.tags
    assert item.downloads is None  # only what was asked for


def test_library_and_task_come_from_the_files_when_the_card_is_silent(hub: Hub) -> None:
    api = hub.api("alice")
    cases = {
        "st": (
            {
                "modules.json": b"[]",
                "config_sentence_transformers.json": b"{}",
                "config.json": b'{"architectures": ["BertModel"], "model_type": "bert"}',
            },
            "sentence-transformers",
            "sentence-similarity",
        ),
        "diff": ({"model_index.json": b'{"_class_name": "StableDiffusionPipeline"}'}, "diffusers", "text-to-image"),
        "causal": (
            {"config.json": b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}'},
            "transformers",
            "text-generation",
        ),
        "mlm": ({"config.json": b'{"architectures": ["RobertaForMaskedLM"]}'}, "transformers", "fill-mask"),
        "ner": (
            {"config.json": b'{"architectures": ["BertForTokenClassification"]}'},
            "transformers",
            "token-classification",
        ),
        "qa": (
            {"config.json": b'{"architectures": ["BertForQuestionAnswering"]}'},
            "transformers",
            "question-answering",
        ),
        "t5": (
            {"config.json": b'{"architectures": ["T5ForConditionalGeneration"], "model_type": "t5"}'},
            "transformers",
            "text2text-generation",
        ),
        "asr": (
            {"config.json": b'{"architectures": ["WhisperForConditionalGeneration"], "model_type": "whisper"}'},
            "transformers",
            "automatic-speech-recognition",
        ),
        "onnx": ({"model.onnx": b"\x08\x07"}, "onnx", None),
    }
    for name, (files, library, task) in cases.items():
        repo_id = api.create_repo(f"{name}-{time.monotonic_ns()}").repo_id
        _commit(hub, repo_id, files)
        info = api.model_info(repo_id)
        assert (info.library_name, info.pipeline_tag) == (library, task), name
        assert library in info.tags
    # The card wins over the files.
    repo_id = api.create_repo(f"card-{time.monotonic_ns()}").repo_id
    _commit(hub, repo_id, {"README.md": b"---\nlibrary_name: timm\n---\n", **cases["causal"][0]})
    assert api.model_info(repo_id).library_name == "timm"


def test_adapter_and_quantized_relations_are_inferred_from_the_files(hub: Hub) -> None:
    api = hub.api("alice")
    adapter = api.create_repo(f"lora-{time.monotonic_ns()}").repo_id
    _commit(hub, adapter, {"adapter_config.json": json.dumps({"base_model_name_or_path": "acme/base-7b"}).encode()})
    info = api.model_info(adapter)
    assert info.library_name == "peft"
    assert {"base_model:acme/base-7b", "base_model:adapter:acme/base-7b"} <= set(info.tags)
    quant = api.create_repo(f"q-{time.monotonic_ns()}").repo_id
    _commit(hub, quant, {"README.md": b"---\nbase_model: acme/base-7b\n---\n", "m-Q4_K_M.gguf": b"GGUF"})
    assert "base_model:quantized:acme/base-7b" in api.model_info(quant).tags


def test_dataset_tags_and_configs(hub: Hub) -> None:
    api = hub.api("alice")
    repo_id = api.create_repo(f"ds-{time.monotonic_ns()}", repo_type="dataset").repo_id
    card = (
        "---\nlanguage: [de]\ntask_categories: [text-classification]\nsize_categories: [n<1K]\nconfigs:\n"
        "- config_name: default\n  data_files:\n  - split: train\n    path: data/train.csv\n---\n"
    )
    _commit(hub, repo_id, {"README.md": card.encode(), "data/train.csv": b"a,b\n1,2\n"}, repo_type="dataset")
    info = api.dataset_info(repo_id)
    assert info.card_data.configs == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train.csv"}]}
    ]
    assert {"language:de", "task_categories:text-classification", "size_categories:n<1K", "format:csv"} <= set(
        info.tags
    )


def test_malformed_yaml_is_kept_and_reported(hub: Hub, repo_id: str) -> None:
    """validate-yaml refuses such cards from the client; a raw commit or a git push still lands, and the
    card's error is shown on the repository rather than failing the push."""
    r = _raw_commit(hub, repo_id, {"README.md": b"---\nlicense: [unclosed\n---\n# still a card\n"})
    assert r.status_code == 200, r.text
    api = hub.api("alice")
    info = api.model_info(repo_id)
    assert "Invalid YAML" in info.cardError
    assert not info.card_data or not info.card_data.to_dict()
    assert api.hf_hub_download(repo_id, "README.md", cache_dir=None).endswith("README.md")
    _raw_commit(hub, repo_id, {"README.md": b"---\nlicense: mit\n---\n"})
    info = api.model_info(repo_id)
    assert info.card_data.license == "mit" and getattr(info, "cardError", None) is None


BOMB = (
    "---\na: &a [x,x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9))
    + "---\n"
)  # ten thousand million values once expanded


def test_hostile_front_matter_costs_bounded_time(hub: Hub, repo_id: str) -> None:
    cards = {
        "billion laughs": BOMB.encode(),
        "deep nesting": b"---\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n---\n",
        "huge integer": b"---\nx: " + b"9" * 100_000 + b"\n---\n",
        "1 MB of metadata": b"---\n" + b"k: v\n" * 300_000 + b"---\n",
        "10 MB card": b"---\nlicense: mit\n---\n" + b"# words\n" * 1_240_000,  # just under the LFS threshold
    }
    for name, card in cards.items():
        start = time.monotonic()
        r = _raw_commit(hub, repo_id, {"README.md": card})
        assert r.status_code == 200, (name, r.text)
        info = hub.api("alice").model_info(repo_id)
        assert time.monotonic() - start < 15, name
        if name == "10 MB card":
            assert info.card_data.license == "mit"
        else:
            assert info.cardError, name
