"""A local HTTPS JSON server for the poll-cycle benchmark: ``GET /v/<n>`` -> ``{"value": n}``.

Run as its own process (so it does not share a core's time slices with the
measured client): ``python bench/json_server.py CERT KEY PORT``.
"""

from __future__ import annotations

import ssl
import sys

from aiohttp import web


async def value(request: web.Request) -> web.Response:
    return web.json_response({"value": int(request.match_info["n"])})


def main() -> None:
    cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_get("/v/{n}", value)
    web.run_app(app, host="127.0.0.1", port=port, ssl_context=context, print=None, access_log=None)


if __name__ == "__main__":
    main()
