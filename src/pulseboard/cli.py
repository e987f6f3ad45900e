"""The ``pulseboard`` command: serve, worker, createadmin, demo, push, rotate-keys, export,
token, keys, move-db, backup, import."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click


def _django() -> None:
    # The one place outside config/ that touches the environment: Django's own
    # bootstrap variable, which must be set before settings load.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulseboard.config.settings")
    import django

    from pulseboard.config.env import ConfigurationError

    try:
        django.setup()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def cli() -> None:
    """Pulseboard: an organization's headline numbers, always current."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn processes")
@click.option("--threads", default=4, show_default=True, type=int, help="threads per process")
@click.option("--no-worker", is_flag=True, help="do not run the pull worker in-process")
@click.option(
    "--demo-feed",
    is_flag=True,
    help="push a value to the demo's webhook KPI every few seconds (what `make run` does)",
)
def serve(
    host: str, port: int, workers: int, threads: int, no_worker: bool, demo_feed: bool
) -> None:
    """Migrate, then serve the web app (and the pull worker unless --no-worker)."""
    from pulseboard.config.env import ConfigurationError, base_url_derive

    try:
        # Before settings load: links must name this server's port, not the default one.
        base_url, derived = base_url_derive(host=host, port=port)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    _django()
    from django.core.management import call_command
    from django.db import connections

    from pulseboard.config.env import get_env
    from pulseboard.config.wsgi import application
    from pulseboard.core.metrics import enable_multiprocess
    from pulseboard.server import GunicornServer, gunicorn_options
    from pulseboard.worker.embedded import gunicorn_hooks

    call_command("migrate", interactive=False, verbosity=0)
    # No connection may cross the fork into gunicorn's worker processes.
    connections.close_all()
    # Web processes and the worker child all count into one directory; /metrics sums it.
    enable_multiprocess(get_env().data_dir / "metrics")
    hooks = {} if no_worker else gunicorn_hooks()
    if demo_feed:
        from pulseboard import demo as demo_data

        target = demo_data.demo_feed_target(base_url=demo_data.feed_base_url(host, port))
        connections.close_all()  # the feed thread lives in the master: no connection in it
        if target is None:
            click.echo("Demo feed: no demo organization with its webhook KPI here; not feeding.")
        else:
            hooks = demo_data.demo_feed_hooks(hooks, demo_data.DemoFeed(target))
            click.echo(f"Demo feed: a new '{demo_data.FEED_KPI}' value every few seconds.")
    click.echo(f"Pulseboard listening on http://{host}:{port}/")
    if derived:
        click.echo(
            f"Links (webhook endpoints, invites, password resets) use {base_url}/; behind a "
            "proxy or on another host name, set PULSEBOARD_BASE_URL to the public URL."
        )
    options = gunicorn_options(host=host, port=port, workers=workers, threads=threads, **hooks)
    GunicornServer(options, lambda: application).run()


@cli.command()
@click.option("--concurrency", type=click.IntRange(min=1), help="pulls in flight at once")
@click.option("--batch-size", type=click.IntRange(min=1), help="most sources claimed at once")
@click.option("--poll-seconds", type=click.FloatRange(min=0.01), help="idle poll interval")
@click.option("--lease-seconds", type=click.FloatRange(min=0.1), help="claim lease length")
@click.option(
    "--grace-seconds",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="on SIGTERM, how long in-flight pulls may finish",
)
@click.option(
    "--once", is_flag=True, help="pull what is due and judge KPIs whose time has come, then exit"
)
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="serve /metrics on this port")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--parent-pid", type=int, hidden=True)
def worker(
    concurrency: int | None,
    batch_size: int | None,
    poll_seconds: float | None,
    lease_seconds: float | None,
    grace_seconds: float,
    once: bool,
    metrics_port: int | None,
    metrics_host: str,
    parent_pid: int | None,
) -> None:
    """Run only the pull worker (scale-out: any number of them, sharing one PostgreSQL)."""
    _django()
    from collections.abc import Mapping
    from typing import Any

    from django.conf import settings

    from pulseboard.connectors.outbound import fetch_policy
    from pulseboard.worker.runner import WorkerOptions, run_until_signalled, worker_owner_id

    config: Mapping[str, Any] = settings.PULSEBOARD
    try:
        options = WorkerOptions(
            owner=worker_owner_id(),
            policy=fetch_policy(),
            concurrency=concurrency or int(config["WORKER_CONCURRENCY"]),
            batch_size=batch_size or int(config["WORKER_BATCH_SIZE"]),
            poll_seconds=poll_seconds or float(config["WORKER_POLL_SECONDS"]),
            lease_seconds=lease_seconds or float(config["WORKER_LEASE_SECONDS"]),
            grace_seconds=grace_seconds,
            once=once,
            parent_pid=parent_pid,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from pulseboard.core.metrics import PROCESS_REGISTRY

        start_http_server(metrics_port, addr=metrics_host, registry=PROCESS_REGISTRY)
    click.echo(
        f"Pulseboard worker {options.owner}: {options.concurrency} pulls at once, "
        f"lease {options.lease_seconds:g} s",
        err=True,
    )
    stats = run_until_signalled(options)
    click.echo(
        f"Pulseboard worker {options.owner} stopped: {stats.pulls} pulls "
        f"({stats.ok} ok, {stats.failed} failed), {stats.released} leases released, "
        f"{stats.status_changes} status changes by time",
        err=True,
    )


@cli.command()
@click.option("--email", required=True)
@click.option("--org", "org_name", required=True, help="organization name (created if new)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option(
    "--reset-password",
    is_flag=True,
    help="set a new password on an existing account (otherwise it is never changed)",
)
def createadmin(email: str, org_name: str, password_stdin: bool, reset_password: bool) -> None:
    """Create (or promote) an admin of an organization.

    A new account needs a password that passes the password rules (length, not common,
    not numeric, not like the e-mail address). An existing account is made an admin and
    keeps its password, which logs it in to every org it belongs to, unless
    --reset-password is given.
    """
    _django()
    from pulseboard.core.errors import DomainError
    from pulseboard.orgs.selectors import user_get_by_email
    from pulseboard.orgs.services import admin_bootstrap

    existing = user_get_by_email(email=email) is not None
    password = None
    if reset_password or not existing:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        org, user = admin_bootstrap(
            email=email, password=password, org_name=org_name, reset_password=reset_password
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{user.email} is an admin of {org.name} (slug: {org.slug})")
    if existing:
        click.echo(
            "The account existed: its password was changed."
            if reset_password
            else "The account existed: its password is unchanged (--reset-password sets one)."
        )


@cli.command()
def demo() -> None:
    """Create a demo org with realistic KPIs and six months of history (idempotent)."""
    _django()
    from django.core.management import call_command
    from tqdm import tqdm

    from pulseboard import demo as demo_data
    from pulseboard.core import clock

    call_command("migrate", interactive=False, verbosity=0)
    if demo_data.demo_exists():
        click.echo(f"The demo org '{demo_data.DEMO_ORG}' exists already; nothing to do.")
    else:
        with tqdm(total=len(demo_data.DEMO_KPIS), desc="Demo KPIs", unit="kpi") as bar:
            demo_data.demo_create(now=clock.now(), progress=bar.update)
    click.echo(f"Demo login: {demo_data.DEMO_EMAIL} / {demo_data.DEMO_PASSWORD}")


@cli.command()
def migrate() -> None:
    """Apply database migrations."""
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False)


@cli.command("move-db")
@click.option("--to", "target_url", required=True, metavar="POSTGRESQL_URL")
@click.option("--no-progress", is_flag=True, help="no progress bars")
def move_db(target_url: str, no_progress: bool) -> None:
    """Copy this SQLite installation into an EMPTY PostgreSQL database and verify it."""
    _django()
    from pulseboard.config.env import get_env
    from pulseboard.maintenance.move import MoveRefused, move_database, report_lines

    try:
        report = move_database(target_url=target_url, show_progress=not no_progress)
    except MoveRefused as exc:
        raise click.ClickException(exc.message) from exc
    for line in report_lines(report):
        click.echo(line)
    if not report.ok:
        raise click.ClickException(
            "Verification failed (see MISMATCH above): nothing was committed to the target."
        )
    click.echo(f"Moved {report.rows} rows into {report.target} in {report.seconds:.1f} s.")
    click.echo(
        "Encrypted secrets were copied as stored, not re-encrypted: run Pulseboard on "
        "PostgreSQL with this installation's PULSEBOARD_SECRET_KEY and "
        "PULSEBOARD_ENCRYPTION_KEYS (the files secret_key and encryption_keys in "
        f"{get_env().data_dir.resolve()} unless you set them yourself)."
    )


@cli.command()
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="backup file to create [default: <data dir>/backups/pulseboard-<UTC time>.sqlite3]",
)
def backup(output: Path | None) -> None:
    """Write a consistent snapshot of the SQLite database and print its path."""
    _django()
    from django.db import connection

    from pulseboard.config.env import get_env
    from pulseboard.core import clock
    from pulseboard.maintenance.backup import (
        BackupFailed,
        backup_sqlite,
        default_backup_path,
        pg_dump_guidance,
    )

    database = connection.settings_dict
    data_dir = get_env().data_dir.resolve()
    if connection.vendor != "sqlite":
        raise click.ClickException(
            pg_dump_guidance(
                host=str(database["HOST"]),
                port=str(database["PORT"]),
                user=str(database["USER"]),
                database=str(database["NAME"]),
                now=clock.now(),
            )
        )
    try:
        made = backup_sqlite(
            database=Path(str(database["NAME"])),
            output=output or default_backup_path(data_dir, clock.now()),
        )
    except BackupFailed as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(str(made.path))
    click.echo(
        f"Backed up {made.size} bytes in {made.seconds:.2f} s. Keep the keys with it: "
        f"{data_dir / 'secret_key'} and {data_dir / 'encryption_keys'} (or your "
        "PULSEBOARD_SECRET_KEY / PULSEBOARD_ENCRYPTION_KEYS); without them the stored "
        "secrets cannot be decrypted.",
        err=True,
    )


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--org", "org_slug", required=True, help="organization slug")
@click.option("--name", required=True, help="what the token is for, e.g. 'deploy script'")
@click.option("--scope", type=click.Choice(["admin", "read"]), required=True)
def token_create_command(org_slug: str, name: str, scope: str) -> None:
    """Mint an API token and print it once (only its hash is stored)."""
    _django()
    from pulseboard.core.actors import Actor
    from pulseboard.core.errors import DomainError
    from pulseboard.orgs.selectors import org_get_by_slug
    from pulseboard.orgs.services import token_create

    try:
        org = org_get_by_slug(slug=org_slug)
        made, plaintext = token_create(org=org, actor=Actor.system("cli"), name=name, scope=scope)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    # The token alone on stdout, so TOKEN=$(pulseboard token create ...) works.
    click.echo(plaintext)
    click.echo(f"{scope} token '{made.name}' for {org.name}: shown once, store it now.", err=True)


def _moment(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or date-time; without a zone offset it is read as UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 date-time", param_hint=option
        ) from exc


def _rows_in(chunk: str, fmt: str) -> int:
    # Each JSON row, and only the CSV header line, names "observed_at".
    if fmt == "json":
        return chunk.count('"observed_at"')
    return chunk.count("\n") - chunk.count("observed_at")


@cli.command()
@click.option("--org", "org_slug", required=True, help="organization slug")
@click.option("--kpi", "kpi_id", required=True, help="KPI id")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--since", help="rows observed at or after (ISO 8601; UTC without an offset)")
@click.option("--until", help="rows observed before (ISO 8601; UTC without an offset)")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="file (else stdout)"
)
def export(
    org_slug: str, kpi_id: str, fmt: str, since: str | None, until: str | None, output: Path | None
) -> None:
    """Export a KPI's history, oldest first, streamed from the database."""
    _django()
    from tqdm import tqdm

    from pulseboard.core.errors import DomainError
    from pulseboard.history.export import history_csv, history_json
    from pulseboard.history.selectors import history_range
    from pulseboard.indicators.selectors import kpi_get
    from pulseboard.orgs.selectors import org_get_by_slug

    window = {"since": _moment(since, "--since"), "until": _moment(until, "--until")}
    try:
        org = org_get_by_slug(slug=org_slug)
        kpi = kpi_get(org=org, kpi_id=kpi_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    export_rows = history_csv if fmt == "csv" else history_json
    chunks = export_rows(org_id=org.pk, kpi_id=kpi.pk, **window)
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    total = history_range(org_id=org.pk, kpi_id=kpi.pk, **window).count()
    with (
        output.open("w", encoding="utf-8", newline="") as handle,
        tqdm(total=total, desc=f"Exporting {kpi.title}", unit="row") as bar,
    ):
        for chunk in chunks:
            handle.write(chunk)
            bar.update(_rows_in(chunk, fmt))
    click.echo(f"Wrote {total} rows to {output}", err=True)


@cli.command("import")
@click.option("--kpi", "kpi_id", required=True, help="KPI id (as in its page's URL)")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-progress", is_flag=True, help="no progress bars")
def import_history(kpi_id: str, file: Path, no_progress: bool) -> None:
    """Import past values of a KPI from a CSV file (header observed_at,value).

    Every row is checked before anything is written (the rules of the API's
    POST /kpis/{id}/history/import); rows at a time already in the history are
    skipped. At most 100,000 rows per file.
    """
    _django()
    from collections.abc import Iterator

    from tqdm import tqdm

    from pulseboard.connectors.manual import ManualConnector
    from pulseboard.core.actors import Actor
    from pulseboard.core.errors import DomainError
    from pulseboard.history.selectors import import_plan, kpi_by_id
    from pulseboard.history.services import history_import, history_import_parse

    try:
        kpi = kpi_by_id(kpi_id=kpi_id)
    except DomainError as exc:
        raise click.ClickException(f"{exc.message}: {kpi_id}") from exc
    size = file.stat().st_size
    with (
        file.open("rb") as handle,
        tqdm(
            total=size, desc=f"Reading {file.name}", unit="B", unit_scale=True, disable=no_progress
        ) as bar,
    ):

        def chunks() -> Iterator[bytes]:
            while chunk := handle.read(64 * 1024):
                bar.update(len(chunk))
                yield chunk

        parsed = history_import_parse(chunks())
    if not parsed.ok:
        for error in parsed.errors:
            click.echo(str(error), err=True)
        raise click.ClickException(parsed.summary())
    new = len(import_plan(kpi=kpi, points=parsed.points).new)
    try:
        with tqdm(
            total=new, desc=f"Importing into {kpi.title}", unit="row", disable=no_progress
        ) as bar:
            outcome = history_import(
                kpi=kpi,
                points=parsed.points,
                actor=Actor.system("cli"),
                source=ManualConnector.kind,
                progress=bar.update,
            )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    skipped = f"; {outcome.skipped} already in history, skipped" if outcome.skipped else ""
    current = "it is now the current value" if outcome.applied else "the current value stays"
    click.echo(
        f"Imported {outcome.imported} of {parsed.rows} rows into {kpi.title}{skipped}; "
        f"newest row {parsed.last.isoformat() if parsed.last else '-'}: {current}."
    )


@cli.group()
def keys() -> None:
    """Signing and encryption keys."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a fresh PULSEBOARD_SECRET_KEY and PULSEBOARD_ENCRYPTION_KEYS."""
    import secrets

    from cryptography.fernet import Fernet

    click.echo(f"PULSEBOARD_SECRET_KEY={secrets.token_urlsafe(50)}")
    click.echo(f"PULSEBOARD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}")


@cli.command()
@click.argument("url")
@click.option("--secret", required=True, help="the KPI's webhook secret (whsec_…)")
@click.option("--value", required=True, type=float, help="the number to record")
@click.option("--observed-at", help="when it was true (ISO 8601 with offset; default: now)")
@click.option(
    "--id", "webhook_id", help="webhook-id to send (default: a fresh one; reuse to retry)"
)
def push(
    url: str, secret: str, value: float, observed_at: str | None, webhook_id: str | None
) -> None:
    """Send one value to a KPI's webhook endpoint, signed (Standard Webhooks)."""
    from pulseboard.connectors.push import PushFailed, outcome_line
    from pulseboard.connectors.push import push as push_value

    try:
        outcome = push_value(
            url=url,
            secret=secret,
            value=value,
            observed_at=observed_at,
            now=datetime.now(UTC),
            webhook_id=webhook_id,
        )
    except PushFailed as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(outcome_line(outcome))


@cli.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored secret with the first key of PULSEBOARD_ENCRYPTION_KEYS."""
    _django()
    from pulseboard.connectors.services import secrets_rotate_keys
    from pulseboard.core.errors import DomainError

    try:
        done = secrets_rotate_keys()
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"Re-encrypted {done.sources} source secret(s) and {done.connections} Google "
        "connection(s) with the first key. Keys after the first can now be removed."
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
