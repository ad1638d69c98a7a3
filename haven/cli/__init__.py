"""The `haven` command line: serve, and the admin commands that work beside a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from haven.config import Settings

app = typer.Typer(help="Haven: a self-hosted hub for models and datasets.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
org_app = typer.Typer(help="Manage organisations.", no_args_is_help=True)
token_app = typer.Typer(help="Manage access tokens.", no_args_is_help=True)
storage_app = typer.Typer(help="Inspect storage.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(org_app, name="org")
app.add_typer(token_app, name="token")
app.add_typer(storage_app, name="storage")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: $HAVEN_DATA_DIR or ./haven-data).")
]


def _settings(data_dir: Path | None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def _hub(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from haven.hub import Hub

    return Hub.open(_settings(data_dir))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default 1).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Start the hub. Creates and migrates the database on first start."""
    from haven.server import run

    run(_settings(data_dir, host=host, port=port, workers=workers))


@user_app.command("create")
def user_create(
    name: str,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    password: Annotated[str | None, typer.Option(help="Password for the web UI.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user a site administrator.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user."""
    from haven.auth import service

    hub = _hub(data_dir)
    with _errors(), hub.db.write() as session:
        service.create_user(session, name, email=email, password=password, admin=admin)
    typer.echo(f"created user {name}", err=True)


@org_app.command("create")
def org_create(
    name: str,
    owner: Annotated[str, typer.Option(help="User who becomes the organisation's first admin.")],
    data_dir: DataDir = None,
) -> None:
    """Create an organisation owned by a user."""
    from haven.auth import service

    hub = _hub(data_dir)
    with _errors(), hub.db.write() as session:
        service.create_org(session, name, owner)
    typer.echo(f"created organisation {name}", err=True)


@org_app.command("add-member")
def org_add_member(
    org: str,
    user: str,
    role: Annotated[str, typer.Option(help="read, contributor, write or admin.")] = "read",
    data_dir: DataDir = None,
) -> None:
    """Add a user to an organisation (or change their role)."""
    from haven.auth import service

    hub = _hub(data_dir)
    with _errors(), hub.db.write() as session:
        service.set_member(session, org, user, role)
    typer.echo(f"{user} is now {role} in {org}", err=True)


@token_app.command("create")
def token_create(
    user: str,
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "cli",
    role: Annotated[str, typer.Option(help="read or write (a token with --scope is fine-grained).")] = "write",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="Make it fine-grained: KIND:NAME=PERMISSION[,...] with KIND model, dataset, space, user or org "
            "(or global=PERMISSION,...); repeat for more. Permissions: repo.content.read, repo.write, "
            "discussion.write, repo.manage, org.write."
        ),
    ] = None,
    expires: Annotated[str | None, typer.Option(help="Lifetime (30d, 12h, 2w, 1y) or an ISO date (UTC).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an access token; prints only the token."""
    from haven.auth import service, tokens
    from haven.auth.scopes import parse_scope

    hub = _hub(data_dir)
    with _errors(), hub.db.write() as session:
        fine = tokens.resolve_scope(session, [parse_scope(s) for s in scope]) if scope else None
        expires_at = tokens.parse_expiry(expires)
        token = service.create_token(session, user, name, role, scope=fine, expires_at=expires_at)
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(token: str, data_dir: DataDir = None) -> None:
    """Revoke a token."""
    from haven.auth import service

    hub = _hub(data_dir)
    with hub.db.write() as session:
        found = service.revoke_token(session, token)
    if not found:
        typer.echo("no such active token", err=True)
        raise typer.Exit(1)
    typer.echo("revoked", err=True)


@storage_app.command("stats")
def storage_stats(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Logical bytes the repositories reference, bytes stored, and the dedup ratio."""
    import json

    from haven.storage.stats import collect

    stats = collect(_hub(data_dir))
    rows = {
        "repositories": stats.repos,
        "logical_bytes": stats.logical_bytes,
        "unique_file_bytes": stats.unique_object_bytes,
        "stored_bytes": stats.stored_bytes,
        "blob_bytes": stats.blob_bytes,
        "xorb_bytes": stats.xorb_bytes,
        "dedup_ratio": round(stats.dedup_ratio, 3),
    }
    if json_output:
        typer.echo(json.dumps(rows))
    else:
        for key, value in rows.items():
            typer.echo(f"{key:<18} {value}")


class _errors:
    """Print domain errors as one line and exit 1, instead of a traceback."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        from haven.errors import HavenError

        if isinstance(exc, HavenError):
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1)
        return False


from haven.cli import mirror as _mirror  # noqa: E402 (registers on `app`, defined above)
from haven.cli import teams  # noqa: E402 (it uses the helpers above)

org_app.add_typer(teams.group_app, name="group")
token_app.command("list")(teams.token_list)
_mirror.install(app)


def main() -> None:
    app()


from haven.cli import recovery as _recovery  # noqa: E402  (its commands use the helpers above)
from haven.cli import worker as _worker  # noqa: E402,F401  (registers `haven worker`)

_recovery.register(app)
