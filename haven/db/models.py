"""Imports every model so the metadata Alembic sees is complete."""

from haven.auth.models import Account, Membership, Token, WebSession
from haven.cas.models import XetDedupChunk, XetFile, XetFileXorb, XetXorb
from haven.jobs.models import Job
from haven.metadata.models import RepoMetadata
from haven.repos.models import LfsObject, Like, Repo, RepoActivity, RepoTag
from haven.viewer.models import DatasetViewer

__all__ = [
    "Account",
    "DatasetViewer",
    "Job",
    "LfsObject",
    "Like",
    "Membership",
    "Repo",
    "RepoActivity",
    "RepoMetadata",
    "RepoTag",
    "Token",
    "WebSession",
    "XetDedupChunk",
    "XetFile",
    "XetFileXorb",
    "XetXorb",
]
