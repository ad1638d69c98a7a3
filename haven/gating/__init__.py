"""Gated repositories: who asked for a repository's files, and what its admins decided."""
