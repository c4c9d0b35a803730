"""The `signpost` command. The directory owns the group; other packages add commands through the
`signpost.commands` entry-point group (the checker adds `check`, `check-urls` and `review`)."""

from __future__ import annotations

import secrets
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from directory.db import DEFAULT_DB, DatabaseError

DEFAULT_DATA = "data"

data_option = click.option(
    "--data", "data_dir", default=DEFAULT_DATA, show_default=True,
    type=click.Path(file_okay=False, path_type=Path), help="Folder of human-edited data files.",
)
db_option = click.option(
    "--db", "db_path", default=DEFAULT_DB, show_default=True, envvar="SIGNPOST_DB",
    type=click.Path(dir_okay=False, path_type=Path), help="SQLite database file.",
)


class SignpostGroup(click.Group):
    """Adds commands registered by other packages, loaded only when they are used."""

    def _plugin_commands(self) -> dict:
        return {ep.name: ep for ep in entry_points(group="signpost.commands")}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands()))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in self._plugin_commands():
            command = self._plugin_commands()[name].load()
        return command


@click.group(cls=SignpostGroup)
@click.version_option(package_name="signpost")
def cli():
    """Signpost: a resource directory that stays true.

    Curate organizations in data/, build them into SQLite, check their websites and publish the
    directory with Datasette.
    """


def _print_problems(problems, data_dir: Path) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    click.echo(f"{len(problems)} problem(s) found in {data_dir}/.", err=True)


@cli.command()
@data_option
def validate(data_dir):
    """Check every data file and report every problem at once (exit 1 if any)."""
    from directory.validate import validate as run_validation

    loaded = run_validation(data_dir)
    if loaded.problems:
        _print_problems(loaded.problems, data_dir)
        sys.exit(1)
    click.echo(f"OK: {len(loaded.organizations)} organizations, {len(loaded.tags)} tags.")


@cli.command()
@data_option
@db_option
def build(data_dir, db_path):
    """Validate data/, then write the directory into the database in one transaction.

    Nothing is written if the data has problems. Tables written by the checker are kept;
    organizations removed from data/ are kept as withdrawn.
    """
    from directory.build import BuildError, build as run_build

    try:
        report = run_build(data_dir, db_path)
    except BuildError as e:
        _print_problems(e.problems, data_dir)
        click.echo(f"Nothing was written to {db_path}.", err=True)
        sys.exit(1)
    except DatabaseError as e:
        raise click.ClickException(str(e))
    click.echo(
        f"Built {db_path}: {report.organizations} organizations, {report.tags} tags "
        f"({len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.withdrawn)} withdrawn, {len(report.restored)} restored)."
    )
    for label, ids in (("withdrawn", report.withdrawn), ("restored", report.restored)):
        for org_id in ids:
            click.echo(f"  {label}: {org_id}")


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("-p", "--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option("--root", is_flag=True, help="Print a one-time URL that signs a maintainer in (review page, check history).")
def serve(db_path, host, port, root):
    """Serve the built directory with Datasette and the site configuration Signpost ships."""
    import uvicorn

    from directory.publish import build_datasette

    from directory.db import open_db

    token = secrets.token_hex(32) if root else None
    try:
        ds = build_datasette(db_path, root_token=token)
        open_db(db_path).close()  # a database built by an older version gets its pending migrations
    except (FileNotFoundError, DatabaseError) as e:
        raise click.ClickException(str(e))
    if token:
        click.echo(f"Maintainer sign-in: http://{host}:{port}/-/auth-token?token={token}")
    click.echo(f"Serving {db_path} at http://{host}:{port}/")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")


@cli.command("import-html")
@click.argument("page")
@data_option
@db_option
@click.option("--source", "source_id", default=None, help="Source id to record as provenance (default: derived from the page).")
@click.option("--dry-run", is_flag=True, help="Print the proposals without writing draft files.")
def import_html(page, data_dir, db_path, source_id, dry_run):
    """Propose draft entries from an old-style resources PAGE (a file or an http(s) URL).

    Links to organizations not yet in data/ become draft files in data/drafts/, marked for review.
    Curated entries are never overwritten.
    """
    from directory import importer

    try:
        report = importer.import_page(page, data_dir=data_dir, source_id=source_id, dry_run=dry_run)
    except importer.ImportError_ as e:
        raise click.ClickException(str(e))
    importer.print_report(report, dry_run=dry_run)
