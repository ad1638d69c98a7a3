"""Metadata computed from a repository's files (safetensors and GGUF headers, config.json, data files),
once per head of main, by a background job."""
