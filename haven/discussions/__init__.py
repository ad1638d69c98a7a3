"""Discussions and pull requests on repositories (the Hub's Community tab)."""
