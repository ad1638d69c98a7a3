"""Per-caller request rate limits (fixed windows), shared by the worker processes of one host."""
