"""Organisations' resource groups: named sets of repositories with members and a role each."""
