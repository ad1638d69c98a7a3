"""`haven org group ...` (resource groups) and `haven token list`: admin commands beside a running server.
They act as the server's operator: a site admin for every organisation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from haven.auth.permissions import Actor
from haven.cli import DataDir, _errors, _hub

group_app = typer.Typer(help="Manage an organisation's resource groups.", no_args_is_help=True)
OPERATOR = Actor(user_id=0, name="(cli)", is_admin=True)


def _split_repo(spec: str) -> tuple[str, str]:
    """`model:acme/bert`, `dataset:acme/data` or plain `acme/bert` (a model)."""
    kind, sep, name = spec.partition(":")
    return (kind, name) if sep else ("model", spec)


@group_app.command("create")
def group_create(
    org: str,
    name: str,
    description: Annotated[str | None, typer.Option(help="What the group is for.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a resource group in an organisation."""
    from haven.orgs import service

    with _session(data_dir) as session:
        service.create_group(session, OPERATOR, org, name, description)
    typer.echo(f"created resource group {name} in {org}", err=True)


@group_app.command("delete")
def group_delete(org: str, name: str, data_dir: DataDir = None) -> None:
    """Delete a resource group (its members keep their organisation roles)."""
    from haven.orgs import service

    with _session(data_dir) as session:
        service.delete_group(session, OPERATOR, org, name)
    typer.echo(f"deleted resource group {name} of {org}", err=True)


@group_app.command("list")
def group_list(org: str, data_dir: DataDir = None) -> None:
    """Each group with its members (and roles) and repositories."""
    from haven.orgs import service

    with _session(data_dir, write=False) as session:
        for g in service.list_groups(session, OPERATOR, org):
            members = ", ".join(f"{u}:{r}" for u, r in g.members) or "-"
            repos = ", ".join(f"{t}:{n}" for t, n in g.repos) or "-"
            typer.echo(f"{g.name}\tmembers: {members}\trepos: {repos}")


@group_app.command("add-member")
def group_add_member(
    org: str,
    name: str,
    user: str,
    role: Annotated[str, typer.Option(help="read, contributor, write or admin.")] = "read",
    data_dir: DataDir = None,
) -> None:
    """Give a user a role on the group's repositories (or change it)."""
    from haven.orgs import service

    with _session(data_dir) as session:
        service.set_group_member(session, OPERATOR, org, name, user, role)
    typer.echo(f"{user} is {role} in {org}/{name}", err=True)


@group_app.command("remove-member")
def group_remove_member(org: str, name: str, user: str, data_dir: DataDir = None) -> None:
    from haven.orgs import service

    with _session(data_dir) as session:
        service.remove_group_member(session, OPERATOR, org, name, user)
    typer.echo(f"removed {user} from {org}/{name}", err=True)


@group_app.command("add-repo")
def group_add_repo(org: str, name: str, repo: str, data_dir: DataDir = None) -> None:
    """Put a repository of the organisation in the group: `model:acme/bert` (or `acme/bert`)."""
    from haven.orgs import service

    with _session(data_dir) as session:
        service.add_group_repo(session, OPERATOR, org, name, *_split_repo(repo))
    typer.echo(f"added {repo} to {org}/{name}", err=True)


@group_app.command("remove-repo")
def group_remove_repo(org: str, name: str, repo: str, data_dir: DataDir = None) -> None:
    from haven.orgs import service

    with _session(data_dir) as session:
        service.remove_group_repo(session, OPERATOR, org, name, *_split_repo(repo))
    typer.echo(f"removed {repo} from {org}/{name}", err=True)


def token_list(
    owner: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Every token: id, owner, name, role, scopes, created, last used, expiry, state (never a secret)."""
    from haven.auth import tokens

    with _session(data_dir, write=False) as session:
        for t in tokens.all_tokens(session, OPERATOR, owner=owner):
            state = "revoked" if t.revoked_at else "expired" if t.expired else "active"
            when = [d.isoformat(timespec="seconds") if d else "-" for d in (t.created_at, t.last_used_at, t.expires_at)]
            scopes = " ".join(t.scopes) or "-"
            typer.echo("\t".join([str(t.id), t.owner, t.name, t.role, scopes, *when, state]))


@contextmanager
def _session(data_dir: Path | None, write: bool = True) -> Iterator[Session]:
    """A session of the hub in `data_dir`; domain errors are printed as one line (exit 1)."""
    hub = _hub(data_dir)
    try:
        with _errors(), hub.db.write() if write else hub.db.read() as session:
            yield session
    finally:
        hub.close()
