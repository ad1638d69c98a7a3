"""Security scanning of repository files: pickle imports, leaked secrets and (when installed) ClamAV.

Every move of main queues one scan job per repository (tasks.py); results are stored per file
(models.py) and read by the API, the web pages and the inference API (service.py)."""
