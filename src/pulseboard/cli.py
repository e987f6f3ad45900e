"""The ``pulseboard`` command: serve, worker, createadmin, demo, push, export, token, keys."""

from __future__ import annotations

import os
import sys

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
def serve(host: str, port: int, workers: int, threads: int, no_worker: bool) -> None:
    """Migrate, then serve the web app (and the pull worker unless --no-worker)."""
    _django()
    from django.core.management import call_command
    from django.db import connections

    from pulseboard.config.wsgi import application
    from pulseboard.server import GunicornServer, gunicorn_options

    call_command("migrate", interactive=False, verbosity=0)
    # No connection may cross the fork into gunicorn's worker processes.
    connections.close_all()
    hooks = {} if no_worker else _worker_hooks()
    click.echo(f"Pulseboard listening on http://{host}:{port}/")
    options = gunicorn_options(host=host, port=port, workers=workers, threads=threads, **hooks)
    GunicornServer(options, lambda: application).run()


def _worker_hooks() -> dict[str, object]:
    """gunicorn hooks that run the pull worker beside the web workers, if it is installed."""
    try:
        from pulseboard.worker.embedded import gunicorn_hooks
    except ImportError:
        return {}
    return gunicorn_hooks()


@cli.command()
@click.option("--email", required=True)
@click.option("--org", "org_name", required=True, help="organization name (created if new)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def createadmin(email: str, org_name: str, password_stdin: bool) -> None:
    """Create (or promote) an admin of an organization."""
    _django()
    from pulseboard.core.errors import DomainError
    from pulseboard.orgs.services import admin_bootstrap

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("the password must be at least 8 characters")
    try:
        org, user = admin_bootstrap(email=email, password=password, org_name=org_name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{user.email} is an admin of {org.name} (slug: {org.slug})")


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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
