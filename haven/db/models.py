"""Imports every model so the metadata Alembic sees is complete."""

from haven.auth.models import Account, Membership, Token, WebSession
from haven.cas.models import XetDedupChunk, XetFile, XetFileXorb, XetXorb
from haven.repos.models import LfsObject, Like, Repo, RepoTag

__all__ = [
    "Account",
    "LfsObject",
    "Like",
    "Membership",
    "Repo",
    "RepoTag",
    "Token",
    "WebSession",
    "XetDedupChunk",
    "XetFile",
    "XetFileXorb",
    "XetXorb",
]
