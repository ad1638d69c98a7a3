"""Imports every model so the metadata Alembic sees is complete."""

from haven.audit.models import AuditEvent
from haven.auth.models import Account, Membership, Token, WebSession
from haven.cas.models import XetDedupChunk, XetFile, XetFileXorb, XetXorb
from haven.discussions.models import Discussion, DiscussionEvent
from haven.gating.models import AccessRequest
from haven.jobs.models import Job
from haven.metadata.models import RepoMetadata
from haven.mirror.models import MirrorNamespace, MirrorRepo
from haven.orgs.models import ResourceGroup, ResourceGroupMember, ResourceGroupRepo
from haven.repos.models import LfsObject, Like, Repo, RepoActivity, RepoTag
from haven.scanning.models import FileScan, RepoScan
from haven.viewer.models import DatasetViewer
from haven.webhooks.models import Webhook, WebhookDelivery, WebhookWatch

__all__ = [
    "AccessRequest",
    "Account",
    "AuditEvent",
    "DatasetViewer",
    "Discussion",
    "DiscussionEvent",
    "FileScan",
    "Job",
    "LfsObject",
    "Like",
    "Membership",
    "MirrorNamespace",
    "MirrorRepo",
    "Repo",
    "RepoActivity",
    "RepoMetadata",
    "RepoScan",
    "RepoTag",
    "ResourceGroup",
    "ResourceGroupMember",
    "ResourceGroupRepo",
    "Token",
    "WebSession",
    "Webhook",
    "WebhookDelivery",
    "WebhookWatch",
    "XetDedupChunk",
    "XetFile",
    "XetFileXorb",
    "XetXorb",
]
