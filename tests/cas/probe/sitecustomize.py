"""Loaded (via PYTHONPATH) into the client subprocesses of tests/cas when HAVEN_XET_PROBE names a file: counts
which transfer paths huggingface_hub took, so a test can tell a Xet download from a plain HTTP one. It only
counts calls; the stock client runs unchanged."""

from __future__ import annotations

import atexit
import json
import os

_OUT = os.environ.get("HAVEN_XET_PROBE")

if _OUT:
    from huggingface_hub import _commit_api, _upload_pipeline, file_download, hf_file_system

    counts = {"xet_get": 0, "http_get": 0, "xet_upload": 0, "lfs_batch": 0}

    def _count(key: str, *modules: object, name: str | None = None) -> None:
        attr = name or key
        original = getattr(modules[0], attr)

        def counted(*args: object, **kwargs: object) -> object:
            counts[key] += 1
            return original(*args, **kwargs)

        for module in modules:  # every module that bound the function by name
            if getattr(module, attr, None) is original:
                setattr(module, attr, counted)

    _count("xet_get", file_download, hf_file_system)
    _count("http_get", file_download, hf_file_system)
    _count("xet_upload", _commit_api, name="_upload_xet_files")  # create_commit, upload_file
    _count("xet_upload", _upload_pipeline, name="pipelined_upload")  # upload_folder
    _count("lfs_batch", _commit_api, name="post_lfs_batch_info")

    @atexit.register
    def _write() -> None:
        with open(_OUT, "a") as f:
            f.write(json.dumps(counts) + "\n")
