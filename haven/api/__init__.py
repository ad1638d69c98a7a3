"""The HF-compatible wire contract: every route huggingface_hub, the hf CLI and git-lfs call."""

from haven.api import paths as _paths  # noqa: F401  (registers the path convertors routes use)
