"""`haven mirror pull|sync` (pre-seed a mirror) and `haven export|import` (repositories across an air gap)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

mirror_app = typer.Typer(help="Mirror mode: pre-seed repositories from the upstream.", no_args_is_help=True)

RepoType = Annotated[str, typer.Option("--repo-type", help="model, dataset or space.")]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: $HAVEN_DATA_DIR or ./haven-data).")
]


def _hub(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from haven.cli import _hub as open_hub

    return open_hub(data_dir)


def _pull(hub, repo_type: str, repo_id: str, revision: str | None) -> None:  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from haven.mirror import pull

    plan = pull.plan(hub, repo_type, repo_id, revision)
    total = sum(size for _, _, size in plan.missing)
    with tqdm(total=total, unit="B", unit_scale=True, desc=repo_id, disable=None) as bar:
        for path, oid, size in plan.missing:
            bar.set_postfix_str(path[-40:])
            pull.fetch_file(hub, repo_type, repo_id, plan.commit, path, oid, size, bar.update)
    typer.echo(f"{repo_id}@{plan.commit}: {len(plan.missing)} files fetched ({total} bytes)", err=True)


@mirror_app.command("pull")
def mirror_pull(
    repo_id: str,
    revision: Annotated[str | None, typer.Option(help="Branch, tag or commit (default main).")] = None,
    repo_type: RepoType = "model",
    data_dir: DataDir = None,
) -> None:
    """Mirror a repository and fetch all its files at a revision now."""
    from haven.cli import _errors

    hub = _hub(data_dir)
    with _errors():
        _pull(hub, repo_type, repo_id, revision)


@mirror_app.command("sync")
def mirror_sync(
    file: Annotated[
        Path, typer.Option("--file", help="One repository a line: [TYPE:]ORG/NAME[@REVISION]; # comments.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Pull every repository listed in a file (exit 1 if any failed, after trying them all)."""
    from haven.errors import HavenError

    hub = _hub(data_dir)
    failed = 0
    for line in file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, revision = line.partition("@")
        repo_type, _, repo_id = spec.rpartition(":")
        try:
            _pull(hub, repo_type or "model", repo_id, revision or None)
        except HavenError as e:
            failed += 1
            typer.echo(f"error: {line}: {e.message}", err=True)
    if failed:
        raise typer.Exit(1)


def export(
    repo_id: str,
    dest: Path,
    repo_type: RepoType = "model",
    data_dir: DataDir = None,
) -> None:
    """Write a repository (git bundle, its large files, its metadata) to one tar file."""
    from haven.cli import _errors
    from haven.mirror import bundle

    hub = _hub(data_dir)
    with _errors():
        count = bundle.export(hub, repo_type, repo_id, dest)
    typer.echo(f"exported {repo_id} with {count} large files to {dest}", err=True)


def import_(bundle_path: Annotated[Path, typer.Argument(metavar="BUNDLE")], data_dir: DataDir = None) -> None:
    """Create a repository from a `haven export` bundle (all files verified before it appears)."""
    from haven.cli import _errors
    from haven.mirror import bundle

    hub = _hub(data_dir)
    with _errors():
        repo_type, repo_id = bundle.import_(hub, bundle_path)
    typer.echo(f"imported {repo_type} {repo_id}", err=True)


def install(app: typer.Typer) -> None:
    app.add_typer(mirror_app, name="mirror")
    app.command("export")(export)
    app.command("import")(import_)
