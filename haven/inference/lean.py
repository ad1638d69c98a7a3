"""Sentence embeddings without `SentenceTransformer.encode()`, for the module stacks reproduced here exactly.

encode() is general (prompts, modalities, input formats, length sorting, results split into rows and
stacked again) and that generality costs ~1.5 ms a call on this 2-core CPU, next to ~5.7 ms for the forward
pass of all-MiniLM-L6-v2 on one sentence: most of the budget a single request has for everything that is not
the model. Most sentence-transformers models are the classic stack, a Hugging Face encoder, a pooling layer
and perhaps a normalisation, which takes three steps: tokenise, run the encoder, pool the token states.

`plan` recognises that stack, configured so that encode() (without a prompt) would do exactly those steps,
and returns a `Plan` that does them; for any other module, option or setting it returns None and the
caller keeps using encode(). The embeddings are encode()'s either way (tests compare them, model by model
and pooling mode by pooling mode); a `Plan` only skips the work encode() does for cases it is not in.

The encoder itself runs as a TorchScript trace where one gives the eager model's outputs (`_with_trace`): the
Python of a Hugging Face encoder (module calls, attention dispatch, mask building) is ~2 ms of a ~6 ms pass
over one sentence of all-MiniLM-L6-v2 here, and a trace runs the same operators without it.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger("haven.inference.lean")

# What the Transformer module of a text-only encoder runs: the model's forward, its last hidden state.
TEXT_ONLY = {"text": {"method": "forward", "method_output_name": "last_hidden_state"}}


def _mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def _cls(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The first token the mask keeps (position 0 unless the tokenizer pads on the left)."""
    first = mask.to(torch.int).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0]), first]


def _max(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values


def _mask(enc: dict[str, torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """The tokens pooling reads: the attention mask, or every token (of `like`'s batch and length) when the
    tokenizer gives none."""
    return enc["attention_mask"] if "attention_mask" in enc else torch.ones(like.shape[:2], dtype=torch.int64)


POOLING: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"mean": _mean, "cls": _cls, "max": _max}


@dataclass(frozen=True)
class Plan:
    """Tokenise as the Transformer module does, run its encoder, pool, and normalise if the stack does."""

    tokenizer: Any
    model: Any
    accepts: frozenset[str] | None  # what the encoder is given of the tokenizer's output (None: all of it)
    pooling: str
    normalize: bool
    traced: Any = None  # the encoder as a TorchScript trace, checked against `model` (None: run `model`)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(texts, padding=True, truncation="longest_first", return_tensors="pt")
        return dict(enc)

    def encoder_inputs(self, enc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v for k, v in enc.items() if self.accepts is None or k in self.accepts}

    def hidden(self, inputs: dict[str, torch.Tensor], traced: bool = True) -> torch.Tensor:
        """The encoder's last hidden state (the trace's where there is one, unless `traced` is False)."""
        if traced and self.traced is not None:
            out = self.traced(**inputs)
            return out["last_hidden_state"] if isinstance(out, dict) else out[0]
        return self.model(**inputs, return_dict=True).last_hidden_state

    def lengths(self, enc: dict[str, torch.Tensor]) -> list[int]:
        """Each text's token count in `enc` (its padding left out)."""
        return _mask(enc, enc["input_ids"]).sum(dim=1).tolist()

    def rows(self, enc: dict[str, torch.Tensor], index: list[int]) -> dict[str, torch.Tensor]:
        """These texts of `enc`, padded to the longest of them only: what tokenising them alone gives."""
        if index == list(range(enc["input_ids"].shape[0])):
            return enc
        picked = {k: v[index] for k, v in enc.items()}
        used = _mask(picked, picked["input_ids"]).any(dim=0)  # the positions some text of these has a token at
        return {k: v[:, used] for k, v in picked.items()}

    def embed(self, texts: list[str]) -> torch.Tensor:
        """One row per text, as encode(texts, batch_size=len(texts)) computes it (call under inference mode)."""
        return self.embed_tokens(self.tokenize(texts))

    def embed_tokens(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """`embed` of texts already tokenised (by `tokenize`)."""
        hidden = self.hidden(self.encoder_inputs(enc))
        pooled = POOLING[self.pooling](hidden, _mask(enc, hidden))
        return F.normalize(pooled, p=2, dim=-1) if self.normalize else pooled


def plan(st: Any) -> Plan | None:
    """A `Plan` computing what `st.encode()` computes for plain texts, or None when `st` is anything but
    Transformer -> Pooling (mean, cls or max) [-> Normalize] as loaded from a model's files, in float32, with
    no default prompt, processing options, embedding truncation or packed (unpadded) inputs."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import PreTrainedTokenizerBase

    modules = list(st.children()) if type(st) is SentenceTransformer else []
    if len(modules) not in (2, 3) or type(modules[0]) is not Transformer or type(modules[1]) is not Pooling:
        return None
    first, pooling, *rest = modules
    if rest and not (
        type(rest[0]) is Normalize and rest[0].module_input_name == rest[0].module_output_name == "sentence_embedding"
    ):
        return None
    prompt = st.prompts.get(st.default_prompt_name) if st.default_prompt_name else None
    if prompt or st.truncate_dim is not None:
        return None
    if not _plain_text(first) or pooling.pooling_mode not in POOLING:
        return None
    if not isinstance(first.tokenizer, PreTrainedTokenizerBase) or first.processor is not first.tokenizer:
        return None
    model = first.auto_model
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in model.parameters()):
        return None
    accepts = getattr(first, "model_forward_params", False)  # None: the encoder takes any keyword
    if accepts is False:
        return None
    found = Plan(
        first.tokenizer, model, None if accepts is None else frozenset(accepts), pooling.pooling_mode, bool(rest)
    )
    return _with_trace(found, first.max_seq_length)


def _plain_text(module: Any) -> bool:
    """The Transformer module tokenises text with its defaults alone and returns the encoder's last hidden
    state: a feature-extraction encoder, no processing overrides, no packing of inputs for flash attention."""
    return (
        getattr(module, "modality_config", None) == TEXT_ONLY
        and getattr(module, "module_output_name", None) == "token_embeddings"
        and getattr(module, "transformer_task", None) == "feature-extraction"
        and getattr(module, "processing_kwargs", None) == {}
        and getattr(module, "can_flatten_inputs", True) is False
    )


# Texts the trace is made from and checked on: it is made from a padded pair, and must give the eager model's
# hidden states for other lengths, one text alone, more texts, and a text cut at the maximum length.
TRACE_EXAMPLE = ["a short text", "a somewhat longer text, to pad the first one with"]
TRACE_CHECKS = [
    ["one"],
    ["three texts of", "different lengths", "the last of them is the longest of the three by far"],
]
TRACE_TOLERANCE = 1e-5  # absolute, on hidden states: the tests hold embeddings to encode()'s within 1e-5


def _with_trace(found: Plan, max_length: int | None) -> Plan:
    """`found` with its encoder traced, when the trace's hidden states are the eager model's on every check
    (at the positions the pooling reads); else `found` as it is, running the eager model."""
    long_text = " ".join(["word"] * (max_length or 512))
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
            example = found.encoder_inputs(found.tokenize(TRACE_EXAMPLE))
            traced = torch.jit.trace(found.model, example_kwarg_inputs=example, strict=False, check_trace=False)
            candidate = dataclasses.replace(found, traced=traced)
            for texts in [*TRACE_CHECKS, [long_text]]:
                if not _same_hidden(candidate, texts):
                    log.info("the traced encoder differs from the model: running it untraced")
                    return found
    except Exception as exc:  # a model the tracer cannot follow runs as it is
        log.info("the encoder could not be traced (%s: %s): running it untraced", type(exc).__name__, exc)
        return found
    return candidate


def _same_hidden(candidate: Plan, texts: list[str]) -> bool:
    enc = candidate.tokenize(texts)
    inputs = candidate.encoder_inputs(enc)
    traced, eager = candidate.hidden(inputs), candidate.hidden(inputs, traced=False)
    if traced.shape != eager.shape:
        return False
    keep = _mask(enc, eager).unsqueeze(-1) > 0
    return bool(((traced - eager).abs() * keep).max() <= TRACE_TOLERANCE)
