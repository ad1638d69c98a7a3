"""parse_card and derive without a server: what the front matter gives, and what hostile front matter costs."""

from __future__ import annotations

import time

import pytest

from haven.repos import card
from haven.repos.card import CardError, derive, front_matter, parse_card
from haven.repos.library import Files, infer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\na: 1\n---\nbody", "a: 1"),
        ("---\r\na: 1\r\n---\r\nbody", "a: 1"),
        ("\ufeff---\na: 1\n---", "a: 1"),
        ("---\n---\n", ""),
        ("---\na: |\n  ---x\n---\n", "a: |\n  ---x"),
        ("---\na: 1\n", None),  # never closed: no metadata
        ("# title\n---\na: 1\n---\n", None),  # not at the top
    ],
)
def test_front_matter(text: str, expected: str | None) -> None:
    assert front_matter(text) == expected


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "---\n" + "\n".join(lines) + "\n---\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_bomb(10), "expands to more than"),
        ("---\nx: " + "[" * 60 + "]" * 60 + "\n---\n", "nested too deeply"),
        ("---\nx: " + "[" * 50_000 + "]" * 50_000 + "\n---\n", "Invalid YAML"),
        ("---\nx: " + "9" * 10_000 + "\n---\n", "Invalid YAML"),
        ("---\nx: !!python/object/apply:os.system [echo]\n---\n", "Invalid YAML"),
        ("---\n- a\n- b\n---\n", "must be a YAML mapping"),
        ("---\n" + "k: v\n" * 250_000 + "---\n", "larger than 1 MB"),
    ],
)
@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
def test_hostile_front_matter_is_refused_quickly(
    text: str, message: str, loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if loader == "pure-python":  # the loader used when PyYAML was built without libyaml
        monkeypatch.setattr(card, "_LOADER", card._BoundedLoader)
        if "[" * 50_000 in text:
            message = "nested too deeply"  # counted while composing, before libyaml's own limit would apply
        elif "expands" in message:
            message = "too many YAML aliases|expands to more than"
    start = time.monotonic()
    with pytest.raises(CardError, match=message):
        parse_card(text)
    assert time.monotonic() - start < 5


def test_dates_and_scalars_become_json() -> None:
    assert parse_card("---\ndate: 2024-01-02\nn: 1.5\nok: yes\n---\n") == {"date": "2024-01-02", "n": 1.5, "ok": True}


def test_derive_relations() -> None:
    tags, _, _ = derive({"base_model": ["a/x", "b/y"]})
    assert {"base_model:a/x", "base_model:b/y", "base_model:merge:a/x", "base_model:merge:b/y"} <= set(tags)
    tags, _, _ = derive({"base_model": "a/x", "base_model_relation": "quantized"})
    assert tags == ["base_model:a/x", "base_model:quantized:a/x"]
    tags, _, _ = derive({"base_model": "a/x", "base_model_relation": "made-up"})
    assert tags == ["base_model:a/x"]  # an unknown relation is ignored, as is no relation at all


def test_infer_prefers_specific_libraries() -> None:
    st = Files(["modules.json", "config.json"], {"config.json": {"architectures": ["BertModel"], "model_type": "bert"}})
    out = infer(st)
    assert (out.library, out.pipeline, out.auto_model, out.processor) == (
        "sentence-transformers",
        "sentence-similarity",
        "AutoModel",
        None,
    )
    vlm = Files(
        ["config.json", "processor_config.json"],
        {"config.json": {"architectures": ["LlavaForConditionalGeneration"], "vision_config": {}}},
    )
    out = infer(vlm)
    assert (out.pipeline, out.auto_model, out.processor) == (
        "image-text-to-text",
        "AutoModelForImageTextToText",
        "AutoProcessor",
    )
    custom = Files(
        ["config.json"],
        {"config.json": {"architectures": ["MyForCausalLM"], "auto_map": {"AutoModelForCausalLM": "m.MyForCausalLM"}}},
    )
    assert infer(custom).custom_class == "m.MyForCausalLM"
    assert infer(Files(["data/train.parquet", "a.csv"], {}), "dataset").tags == ["format:csv", "format:parquet"]
