"""Runs the WSGI app under gunicorn (gthread workers) from inside ``pulseboard serve``.

Plain WSGI under gthread measured about 8x the throughput of ASGI for these
Django views on a 2-core machine, so that is the production server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], load_app: Callable[[], Any]) -> None:
        self._options = options
        self._load_app = load_app
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load_app()


def gunicorn_options(
    *, host: str, port: int, workers: int, threads: int, **hooks: Any
) -> dict[str, Any]:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "control_socket_disable": True,
        "accesslog": None,
        "graceful_timeout": 10,
        "timeout": 30,
        # Forwarded headers are judged in one place, against PULSEBOARD_TRUSTED_PROXIES
        # (core.client_address); gunicorn's own X-Forwarded-Proto handling is off.
        "secure_scheme_headers": {},
        # The most gunicorn allows: longer URLs up to here reach Django, whose 414 has the
        # API's JSON shape under /api/ (core.request_guard); beyond it gunicorn answers.
        "limit_request_line": 8190,
        **hooks,
    }
