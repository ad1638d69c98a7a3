"""Which library and task a repository's files imply, for when its card does not say.

Read from names and a few small JSON files at the root: config.json (`architectures`, `model_type`),
sentence-transformers' modules.json / config_sentence_transformers.json, diffusers' model_index.json,
PEFT's adapter_config.json, and file extensions (.gguf, .onnx, .safetensors, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from haven.git.store import GitRepo

MAX_SCAN = 10_000  # tree entries looked at
MAX_JSON = 1_000_000  # bytes of a root JSON file read
ROOT_JSON = ("config.json", "model_index.json", "adapter_config.json", "tokenizer_config.json")

# architecture class suffix -> (pipeline tag, transformers auto class); the first match wins
ARCHITECTURES: list[tuple[str, str, str]] = [
    ("ForSequenceClassification", "text-classification", "AutoModelForSequenceClassification"),
    ("ForTokenClassification", "token-classification", "AutoModelForTokenClassification"),
    ("ForQuestionAnswering", "question-answering", "AutoModelForQuestionAnswering"),
    ("ForMaskedLM", "fill-mask", "AutoModelForMaskedLM"),
    ("ForPreTraining", "fill-mask", "AutoModelForPreTraining"),
    ("ForCausalLM", "text-generation", "AutoModelForCausalLM"),
    ("LMHeadModel", "text-generation", "AutoModelForCausalLM"),
    ("ForImageClassification", "image-classification", "AutoModelForImageClassification"),
    ("ForObjectDetection", "object-detection", "AutoModelForObjectDetection"),
    ("ForSemanticSegmentation", "image-segmentation", "AutoModelForSemanticSegmentation"),
    ("ForDepthEstimation", "depth-estimation", "AutoModelForDepthEstimation"),
    ("ForAudioClassification", "audio-classification", "AutoModelForAudioClassification"),
    ("ForCTC", "automatic-speech-recognition", "AutoModelForCTC"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition", "AutoModelForSpeechSeq2Seq"),
    ("ForImageTextToText", "image-text-to-text", "AutoModelForImageTextToText"),
    ("ForVision2Seq", "image-text-to-text", "AutoModelForVision2Seq"),
    ("ForZeroShotImageClassification", "zero-shot-image-classification", "AutoModelForZeroShotImageClassification"),
    ("ForTextToWaveform", "text-to-audio", "AutoModelForTextToWaveform"),
    ("ForTextToSpectrogram", "text-to-speech", "AutoModelForTextToSpectrogram"),
]
SPEECH_MODEL_TYPES = {"whisper", "speech_to_text", "speecht5", "seamless_m4t", "seamless_m4t_v2", "moonshine"}
TOKENIZER_FILES = {
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "tokenizer.model",
}
FILE_TAGS = {".safetensors": "safetensors", ".gguf": "gguf", ".onnx": "onnx", ".h5": "tf", ".msgpack": "jax"}
DATA_FORMATS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".arrow": "arrow",
    ".txt": "text",
    ".zip": "webdataset",
    ".tar": "webdataset",
    ".png": "imagefolder",
    ".jpg": "imagefolder",
    ".wav": "audiofolder",
    ".mp3": "audiofolder",
}
TEXT_TO_IMAGE = (
    "StableDiffusion",
    "Flux",
    "PixArt",
    "Kandinsky",
    "Sana",
    "Kolors",
    "HunyuanDiT",
    "Lumina",
    "AuraFlow",
    "Wuerstchen",
    "LatentConsistency",
    "IFPipeline",
    "CogView",
)


@dataclass
class Files:
    """What inference looks at: the paths (up to MAX_SCAN) and the root JSON files that parsed."""

    paths: list[str] = field(default_factory=list)
    json: dict[str, dict[str, Any]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self._names

    def __post_init__(self) -> None:
        self._names = set(self.paths)

    def extensions(self) -> set[str]:
        return {"." + p.rsplit(".", 1)[-1].lower() for p in self.paths if "." in p.rsplit("/", 1)[-1]}


@dataclass
class Inferred:
    library: str | None = None
    pipeline: str | None = None
    tags: list[str] = field(default_factory=list)
    auto_model: str | None = None
    processor: str | None = None
    custom_class: str | None = None


def scan(git: GitRepo, commit: str) -> Files:
    paths = git.file_paths(commit, MAX_SCAN)
    found: dict[str, dict[str, Any]] = {}
    for name in ROOT_JSON:
        entry = git.entry(commit, name) if name in paths else None
        if entry is None or entry.type != "file" or entry.pointer is not None or entry.size > MAX_JSON:
            continue
        try:
            data = orjson.loads(git.read_blob(entry.oid))
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, dict):
            found[name] = data
    return Files(paths, found)


def infer(files: Files, repo_type: str = "model") -> Inferred:
    """Library, task and file-format tags the files imply (datasets: `format:*` tags only)."""
    out = Inferred()
    exts = files.extensions()
    if repo_type == "dataset":
        out.tags = sorted({f"format:{DATA_FORMATS[e]}" for e in exts if e in DATA_FORMATS})
        return out
    if repo_type != "model":
        return out
    config = files.json.get("config.json")
    if files.has("modules.json") or files.has("config_sentence_transformers.json"):
        out.library, out.pipeline = "sentence-transformers", "sentence-similarity"
    elif "model_index.json" in files.json:
        out.library, out.pipeline = "diffusers", _diffusers_task(files.json["model_index.json"])
    elif "adapter_config.json" in files.json:
        out.library = "peft"
    elif config is not None and isinstance(config.get("architecture"), str) and "pretrained_cfg" in config:
        out.library, out.pipeline = "timm", "image-classification"
    elif config is not None and (_architectures(config) or isinstance(config.get("model_type"), str)):
        out.library = "transformers"
    elif ".gguf" in exts:
        out.library = "gguf"
    elif ".onnx" in exts:
        out.library = "onnx"
    if config is not None and out.library in ("transformers", "sentence-transformers", "peft", None):
        _transformers(config, files, out)
        if out.library == "sentence-transformers":
            out.pipeline = "sentence-similarity"
    tags = [FILE_TAGS[e] for e in sorted(exts) if e in FILE_TAGS]
    if files.has("pytorch_model.bin") or any(p.endswith("/pytorch_model.bin") for p in files.paths):
        tags.append("pytorch")
    if config is not None and isinstance(config.get("model_type"), str) and len(config["model_type"]) <= 64:
        tags.append(config["model_type"])
    out.tags = tags
    return out


def _architectures(config: dict[str, Any]) -> list[str]:
    archs = config.get("architectures")
    return [a for a in archs if isinstance(a, str)] if isinstance(archs, list) else []


def _transformers(config: dict[str, Any], files: Files, out: Inferred) -> None:
    archs = _architectures(config)
    if not archs:
        return
    arch = archs[0]
    model_type = config.get("model_type")
    for suffix, task, auto in ARCHITECTURES:
        if arch.endswith(suffix):
            out.pipeline, out.auto_model = task, auto
            break
    else:
        if arch.endswith("ForConditionalGeneration"):
            if model_type in SPEECH_MODEL_TYPES:
                out.pipeline, out.auto_model = "automatic-speech-recognition", "AutoModelForSpeechSeq2Seq"
            elif "vision_config" in config:
                out.pipeline, out.auto_model = "image-text-to-text", "AutoModelForImageTextToText"
            else:
                out.pipeline, out.auto_model = "text2text-generation", "AutoModelForSeq2SeqLM"
        elif arch.endswith("Model"):
            out.pipeline, out.auto_model = "feature-extraction", "AutoModel"
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict) and out.auto_model and isinstance(auto_map.get(out.auto_model), str):
        out.custom_class = auto_map[out.auto_model]
    if files.has("processor_config.json") or files.has("chat_template.json"):
        out.processor = "AutoProcessor"
    elif any(files.has(f) for f in TOKENIZER_FILES):
        out.processor = "AutoTokenizer"
    elif files.has("preprocessor_config.json"):
        out.processor = (
            "AutoImageProcessor"
            if "vision" in (out.pipeline or "") or "image" in (out.pipeline or "")
            else "AutoFeatureExtractor"
        )


def _diffusers_task(index: dict[str, Any]) -> str | None:
    name = index.get("_class_name")
    if not isinstance(name, str):
        return None
    if "Img2Img" in name or "Image2Image" in name or "Inpaint" in name:
        return "image-to-image"
    if "Video" in name:
        return "text-to-video"
    if "Audio" in name:
        return "text-to-audio"
    if name.endswith("Pipeline") and any(k in name for k in TEXT_TO_IMAGE):
        return "text-to-image"
    return None
