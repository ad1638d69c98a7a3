"""Which task a model runs, and the checks every request's inputs pass before they reach a worker.

Runs in the web server: no torch here. A request becomes a `Job`: the task, the normalised inputs and
parameters, and the parameters that must match for requests to share a forward pass (`batch_key`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from haven.errors import HavenError

TEXT2TEXT = ("summarization", "translation", "text2text-generation")
TASKS = (
    "text-classification",
    "token-classification",
    "fill-mask",
    "feature-extraction",
    "sentence-similarity",
    "text-generation",
    "question-answering",
    "zero-shot-classification",
    *TEXT2TEXT,
    "image-classification",
)
ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
# Tasks a model of another task can also run: an embedding model answers both embedding tasks, a
# sequence-to-sequence model all three text2text tasks, an NLI classifier zero-shot classification.
COMPATIBLE = {
    "feature-extraction": {"sentence-similarity"},
    "sentence-similarity": {"feature-extraction"},
    "text-classification": {"zero-shot-classification"},
    "zero-shot-classification": {"text-classification"},
    **{t: set(TEXT2TEXT) - {t} for t in TEXT2TEXT},
}
ARCHITECTURE_SUFFIXES = (
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForMaskedLM", "fill-mask"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("ForSeq2SeqLM", "text2text-generation"),
    ("ForImageClassification", "image-classification"),
    ("Model", "feature-extraction"),
)
# Models are loaded per family: every task of one family shares the loaded model.
FAMILIES = {
    "text-classification": "seq-cls",
    "zero-shot-classification": "seq-cls",
    "token-classification": "tok-cls",
    "fill-mask": "mlm",
    "question-answering": "qa",
    "text-generation": "causal",
    "conversational": "causal",
    "summarization": "seq2seq",
    "translation": "seq2seq",
    "text2text-generation": "seq2seq",
    "image-classification": "img-cls",
    "feature-extraction": "embed",
    "sentence-similarity": "embed",
    "embeddings": "embed",
}
GENERATION = ("text-generation", "conversational")
MAX_ITEMS = 64  # texts in one request
MAX_LABELS = 32  # zero-shot candidate labels


class InferenceError(HavenError):
    """A request the Inference API refuses or cannot answer; `status` says why (4xx: the caller, 5xx: us)."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message, **extra)
        self.status = status


def bad_input(message: str) -> InferenceError:
    return InferenceError(400, message, error_type="validation")


@dataclass
class Job:
    task: str
    inputs: Any
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False

    @property
    def batch_key(self) -> str:
        """Requests batch together only when everything but their inputs is the same."""
        return json.dumps([self.task, self.params], sort_keys=True, default=str)


def default_task(pipeline_tag: str | None, config: dict[str, Any] | None, sentence_transformers: bool) -> str | None:
    """The task a model runs when the request does not name one: its card's pipeline_tag, else its files'."""
    tag = ALIASES.get(pipeline_tag or "", pipeline_tag)
    if tag in TASKS:
        return tag
    if sentence_transformers:
        return "feature-extraction"
    for arch in (config or {}).get("architectures") or []:
        for suffix, task in ARCHITECTURE_SUFFIXES:
            if isinstance(arch, str) and arch.endswith(suffix):
                return task
    return None


def choose_task(default: str | None, requested: str | None, repo: str) -> str:
    """The task to run: the requested one if the model can run it, else the model's own."""
    if requested is not None:
        requested = ALIASES.get(requested, requested)
        if requested not in TASKS and requested != "conversational":
            raise InferenceError(400, f"Unknown or unsupported task {requested!r}; supported: {', '.join(TASKS)}")
    if default is None:
        raise InferenceError(400, f"Model {repo} has no task Haven can run (no supported pipeline_tag or architecture)")
    if requested is None or requested == default or requested in COMPATIBLE.get(default, ()):
        return requested or default
    raise InferenceError(400, f"Model {repo} runs {default!r}, not {requested!r}")


def _text(value: Any, what: str = "inputs") -> str:
    if not isinstance(value, str):
        raise bad_input(f"{what} must be a string")
    if not value.strip():
        raise bad_input(f"{what} must not be empty")
    return value


def _texts(value: Any) -> str | list[str]:
    """A string or a non-empty list of strings."""
    if isinstance(value, list):
        if not value or len(value) > MAX_ITEMS:
            raise bad_input(f"inputs must be a string or a list of 1 to {MAX_ITEMS} strings")
        return [_text(v) for v in value]
    return _text(value)


def _int(params: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_input(f"parameters.{name} must be an integer from {low} to {high}")
    return value


def _float(params: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_input(f"parameters.{name} must be a number from {low} to {high}")
    return float(value)


def _choice(params: dict[str, Any], name: str, choices: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if value not in choices:
        raise bad_input(f"parameters.{name} must be one of {', '.join(choices)}")
    return value


def _bool(params: dict[str, Any], name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_input(f"parameters.{name} must be true or false")
    return value


def generation_params(params: dict[str, Any], max_new_tokens: int) -> dict[str, Any]:
    """Sampling settings shared by text generation, text2text and chat."""
    out: dict[str, Any] = {
        "max_new_tokens": _int(params, "max_new_tokens", 1, max_new_tokens),
        "temperature": _float(params, "temperature", 0.0, 100.0),
        "top_k": _int(params, "top_k", 0, 100_000),
        "top_p": _float(params, "top_p", 0.0, 1.0),
        "repetition_penalty": _float(params, "repetition_penalty", 0.0, 100.0),
        "seed": _int(params, "seed", 0, 2**63 - 1),
        "do_sample": _bool(params, "do_sample"),
    }
    stop = params.get("stop") or params.get("stop_sequences")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or len(stop) > 8 or not all(isinstance(s, str) and s for s in stop):
            raise bad_input("stop must be a string or a list of up to 8 non-empty strings")
        out["stop"] = stop
    return {k: v for k, v in out.items() if v is not None}


def build_job(task: str, body: Any, max_new_tokens: int) -> Job:
    """Check a classic Inference API body ({"inputs", "parameters"}) for `task`: a clear 400 on bad shapes."""
    if not isinstance(body, dict) or "inputs" not in body:
        raise bad_input('The body must be a JSON object with "inputs"')
    inputs = body["inputs"]
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad_input("parameters must be an object")
    if task in ("feature-extraction", "sentence-similarity"):
        # the client sends feature-extraction parameters at the top level
        params = {**{k: v for k, v in body.items() if k not in ("inputs", "parameters", "options")}, **params}
        if isinstance(inputs, dict) and task == "feature-extraction":
            task = "sentence-similarity"
    check = CHECKS.get(task)
    if check is None:
        raise InferenceError(400, f"Unsupported task {task!r}")
    job = check(inputs, params, max_new_tokens)
    job.task = task
    job.stream = bool(body.get("stream")) and task == "text-generation"
    return job


def _classification(inputs: Any, params: dict[str, Any], _: int) -> Job:
    return Job(
        "",
        _texts(inputs),
        {
            "top_k": _int(params, "top_k", 1, 10_000),
            "function_to_apply": _choice(params, "function_to_apply", ("sigmoid", "softmax", "none")),
        },
    )


def _token_classification(inputs: Any, params: dict[str, Any], _: int) -> Job:
    ignore = params.get("ignore_labels")
    if ignore is not None and not (isinstance(ignore, list) and all(isinstance(x, str) for x in ignore)):
        raise bad_input("parameters.ignore_labels must be a list of strings")
    strategy = _choice(params, "aggregation_strategy", ("none", "simple", "first", "average", "max")) or "simple"
    return Job("", _texts(inputs), {"aggregation_strategy": strategy, "ignore_labels": ignore})


def _fill_mask(inputs: Any, params: dict[str, Any], _: int) -> Job:
    targets = params.get("targets")
    if targets is not None and not (isinstance(targets, list) and all(isinstance(x, str) for x in targets)):
        raise bad_input("parameters.targets must be a list of strings")
    return Job("", _texts(inputs), {"top_k": _int(params, "top_k", 1, 1000) or 5, "targets": targets})


def _feature_extraction(inputs: Any, params: dict[str, Any], _: int) -> Job:
    normalize = _bool(params, "normalize") or False
    truncate = _bool(params, "truncate")
    return Job("", _texts(inputs), {"normalize": normalize, "truncate": True if truncate is None else truncate})


def _sentence_similarity(inputs: Any, params: dict[str, Any], _: int) -> Job:
    if not isinstance(inputs, dict):
        raise bad_input('inputs must be {"source_sentence": str, "sentences": [str, ...]}')
    source = _text(inputs.get("source_sentence"), "inputs.source_sentence")
    sentences = inputs.get("sentences")
    if not isinstance(sentences, list) or not 1 <= len(sentences) <= MAX_ITEMS:
        raise bad_input(f"inputs.sentences must be a list of 1 to {MAX_ITEMS} strings")
    return Job("", {"source_sentence": source, "sentences": [_text(s, "inputs.sentences[]") for s in sentences]})


def _text_generation(inputs: Any, params: dict[str, Any], max_new_tokens: int) -> Job:
    out = generation_params(params, max_new_tokens)
    out["return_full_text"] = _bool(params, "return_full_text") or False
    out["details"] = _bool(params, "details") or False
    return Job("", _text(inputs), out)


def _question_answering(inputs: Any, params: dict[str, Any], _: int) -> Job:
    if not isinstance(inputs, dict):
        raise bad_input('inputs must be {"question": str, "context": str}')
    pair = {
        "question": _text(inputs.get("question"), "inputs.question"),
        "context": _text(inputs.get("context"), "inputs.context"),
    }
    return Job(
        "",
        pair,
        {
            "top_k": _int(params, "top_k", 1, 100),
            "max_answer_len": _int(params, "max_answer_len", 1, 10_000) or 15,
            "handle_impossible_answer": _bool(params, "handle_impossible_answer") or False,
        },
    )


def _zero_shot(inputs: Any, params: dict[str, Any], _: int) -> Job:
    labels = params.get("candidate_labels")
    if isinstance(labels, str):
        labels = [x.strip() for x in labels.split(",") if x.strip()]
    if not isinstance(labels, list) or not 1 <= len(labels) <= MAX_LABELS:
        raise bad_input(f"parameters.candidate_labels must be a list of 1 to {MAX_LABELS} labels")
    template = params.get("hypothesis_template") or "This example is {}."
    if not isinstance(template, str) or "{}" not in template:
        raise bad_input("parameters.hypothesis_template must be a string containing {}")
    return Job(
        "",
        _text(inputs),
        {
            "candidate_labels": [_text(x, "candidate label") for x in labels],
            "hypothesis_template": template,
            "multi_label": _bool(params, "multi_label") or False,
        },
    )


def _text2text(inputs: Any, params: dict[str, Any], max_new_tokens: int) -> Job:
    generate = params.get("generate_parameters") or {}
    if not isinstance(generate, dict):
        raise bad_input("parameters.generate_parameters must be an object")
    out = generation_params({**params, **generate}, max_new_tokens)
    for name in ("src_lang", "tgt_lang"):
        if params.get(name) is not None:
            out[name] = _text(params[name], f"parameters.{name}")
    return Job("", _texts(inputs), out)


def _image_classification(inputs: Any, params: dict[str, Any], _: int) -> Job:
    if isinstance(inputs, str):  # base64 in a JSON body
        try:
            inputs = base64.b64decode(inputs.split(",", 1)[-1] if inputs.startswith("data:") else inputs, validate=True)
        except (binascii.Error, ValueError):
            raise bad_input("inputs must be an image: raw bytes, or base64 in a JSON body") from None
    if not isinstance(inputs, bytes) or not inputs:
        raise bad_input("inputs must be an image: raw bytes, or base64 in a JSON body")
    return Job(
        "",
        inputs,
        {
            "top_k": _int(params, "top_k", 1, 10_000) or 5,
            "function_to_apply": _choice(params, "function_to_apply", ("sigmoid", "softmax", "none")),
        },
    )


CHECKS = {
    "text-classification": _classification,
    "token-classification": _token_classification,
    "fill-mask": _fill_mask,
    "feature-extraction": _feature_extraction,
    "sentence-similarity": _sentence_similarity,
    "text-generation": _text_generation,
    "question-answering": _question_answering,
    "zero-shot-classification": _zero_shot,
    **dict.fromkeys(TEXT2TEXT, _text2text),
    "image-classification": _image_classification,
}


def chat_job(body: dict[str, Any], max_new_tokens: int) -> Job:
    """An OpenAI chat completion request: {"model", "messages": [{"role", "content"}], ...}."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > 256:
        raise bad_input("messages must be a non-empty list of {role, content} objects")
    clean = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise bad_input("each message must be an object with a role and a content")
        content = m.get("content")
        if isinstance(content, list):  # [{"type": "text", "text": ...}]
            if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
                raise bad_input("only text message content is supported")
            content = "".join(str(p.get("text", "")) for p in content)
        if not isinstance(content, str):
            raise bad_input("message content must be a string")
        clean.append({"role": m["role"], "content": content})
    params = dict(body)
    if params.get("max_tokens") is not None:
        params["max_new_tokens"] = params["max_tokens"]
    if params.get("max_completion_tokens") is not None:
        params["max_new_tokens"] = params["max_completion_tokens"]
    out = generation_params(params, max_new_tokens)
    n = body.get("n")
    if n not in (None, 1):
        raise bad_input("only n=1 is supported")
    options = body.get("stream_options") or {}
    out["include_usage"] = bool(isinstance(options, dict) and options.get("include_usage"))
    return Job("conversational", clean, out, stream=bool(body.get("stream")))


def embeddings_job(body: dict[str, Any]) -> Job:
    """An OpenAI embeddings request: {"model", "input": str | [str], "encoding_format"?, "dimensions"?}."""
    inputs = body.get("input")
    if body.get("encoding_format") not in (None, "float"):
        raise bad_input('only encoding_format "float" is supported')
    dims = _int(body, "dimensions", 1, 1_000_000)
    return Job("embeddings", _texts(inputs), {"dimensions": dims})
