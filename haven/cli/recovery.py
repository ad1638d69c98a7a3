"""`haven backup`, `haven restore`, `haven fsck` and `haven gc`: keeping a hub's data whole (haven.recovery)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from haven.recovery.progress import Advance

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: $HAVEN_DATA_DIR or ./haven-data).")
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


class _Bars:
    """Progress bars on stderr (rich); one bar per step, left on screen when the step is done."""

    def __init__(self, progress) -> None:  # type: ignore[no-untyped-def]
        self._progress = progress

    def task(self, description: str, total: int | None) -> Advance:
        task = self._progress.add_task(description, total=total)
        return lambda n: self._progress.advance(task, n)


@contextmanager
def _bars(quiet: bool) -> Iterator[object]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from haven.recovery.progress import Silent

    if quiet:
        yield Silent()
        return
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        yield _Bars(progress)


def _hub(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from haven.cli import _hub as open_hub

    return open_hub(data_dir)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("fsck")(fsck)
    app.command("gc")(gc)


def backup(
    dest: Annotated[Path, typer.Argument(help="Backup directory (created; an earlier backup there is updated).")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Back up the database, git repositories, blobs and Xet data, consistently, while the hub runs.

    Blobs, xorbs and git objects already in DEST are not copied again."""
    from haven.recovery.backup import backup as run

    hub = _hub(data_dir)
    try:
        with _bars(quiet) as progress:
            manifest = run(hub, dest, progress)  # type: ignore[arg-type]
    finally:
        hub.close()
    typer.echo(f"backed up {manifest['repositories']} repositories to {dest}", err=True)


def restore(
    src: Annotated[Path, typer.Argument(help="A directory written by `haven backup`.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Restore a backup into an empty data directory and an empty database ($HAVEN_DATABASE_URL)."""
    from haven.cli import _settings
    from haven.recovery.backup import RestoreRefused
    from haven.recovery.backup import restore as run

    try:
        with _bars(quiet) as progress:
            report = run(_settings(data_dir), src, progress)  # type: ignore[arg-type]
    except RestoreRefused as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    _print_findings(report, json_output=False)
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(f"restored {report.repos} repositories from {src}", err=True)


def fsck(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what is safe to fix (counters, recorded heads, ...).")
    ] = False,
    verify_hashes: Annotated[
        bool, typer.Option("--verify-hashes", help="Hash every blob and xorb (reads all stored bytes).")
    ] = False,
    json_output: JsonOutput = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Check that refs, git objects, LFS and Xet data and the database agree; exit 1 if anything is left wrong."""
    from haven.recovery.fsck import run

    hub = _hub(data_dir)
    try:
        with _bars(quiet or json_output) as progress:
            report = run(hub, repair=repair, verify_hashes=verify_hashes, progress=progress)  # type: ignore[arg-type]
    finally:
        hub.close()
    _print_findings(report, json_output)
    if not report.ok:
        raise typer.Exit(1)


def _print_findings(report, json_output: bool) -> None:  # type: ignore[no-untyped-def]
    if json_output:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for f in report.findings:
        state = "repaired" if f.repaired else ("repairable" if f.repairable else "PROBLEM")
        typer.echo(f"{state:<10} {f.kind:<24} {f.subject}: {f.detail}")
    summary = "ok" if report.ok else f"{sum(not f.repaired for f in report.findings)} problems"
    typer.echo(f"{report.repos} repositories, {report.commits} commits, {report.objects} LFS objects: {summary}")


def gc(
    grace: Annotated[str, typer.Option(help="Keep unreferenced objects younger than this (24h, 30m, 3600).")] = "24h",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted.")] = False,
    json_output: JsonOutput = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Delete blobs and xorbs that no commit on any ref references and that are older than the grace period."""
    from haven.recovery.gc import GcRefused, collect, parse_duration

    try:
        seconds = parse_duration(grace)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--grace") from None
    hub = _hub(data_dir)
    try:
        with _bars(quiet or json_output) as progress:
            report = collect(hub, grace=seconds, dry_run=dry_run, progress=progress)  # type: ignore[arg-type]
    except GcRefused as e:
        typer.echo(f"error: nothing deleted: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        hub.close()
    if json_output:
        typer.echo(json.dumps({**report.as_dict(), "deleted_blobs": report.blobs, "deleted_xorbs": report.xorbs}))
        return
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {len(report.blobs)} blobs ({report.blob_bytes} bytes) and {len(report.xorbs)} xorbs "
        f"({report.xorb_bytes} bytes); kept {report.kept_young} unreferenced objects inside the grace period"
    )
