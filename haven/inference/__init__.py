"""The Inference API: models served from Haven's own storage by worker processes.

`tasks` (which task a model runs, input checks) and `snapshot` (a repository at a commit as a local
directory) run in the web server; `pool` starts and feeds the worker processes (`worker`), which run the
per-task code in `runners`. Only `worker` and `runners` import torch and transformers.
"""
