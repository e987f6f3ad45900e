"""A share board framed by another site, in a real browser (DESIGN §12: only share routes
may be framed by other sites; everything else keeps ``frame-ancestors 'none'``).

Pages served by a tiny ``http.server`` on 127.0.0.1 at another port frame the app: from
127.0.0.1 (another site than the live server's ``localhost``) a share board
``/s/<token>/`` renders inside its frame; from ``localhost`` at that port (another
origin, same site, so the session cookie goes along) a signed-in ``/tree/`` is answered
(200, the member's page) yet Chromium refuses to draw it, because of its
``frame-ancestors 'none'``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Response, expect
from tests.factories import PASSWORD, KpiFactory, MembershipFactory
from tests.web.test_browser import log_in

from pulseboard.core.actors import Actor
from pulseboard.sharing.services import share_link_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves): a static server on 127.0.0.1, another port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_share_board_renders_in_another_sites_frame_and_a_signed_in_page_does_not(
    live_server: Any, page: Page, other_site: tuple[str, Path]
) -> None:
    page.set_default_timeout(8_000)
    base = live_server.url
    outer, folder = other_site
    assert urlsplit(outer).netloc != urlsplit(base).netloc  # another origin
    admin = MembershipFactory(role="admin")
    KpiFactory(org=admin.org, title="Lobby uptime", published=True)
    _, token = share_link_create(org=admin.org, actor=Actor.for_user(admin.user), name="Wall")
    log_in(page, base, admin.user.email, PASSWORD)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    tree_answers: list[Response] = []
    page.on("response", lambda r: tree_answers.append(r) if r.url == f"{base}/tree/" else None)

    # Another site (127.0.0.1 is not the live server's host name) frames the share board.
    (folder / "share.html").write_text(
        f'<!doctype html><title>Wiki</title><iframe id="share" src="{base}/s/{token}/"'
        ' width="900" height="500"></iframe>',
        encoding="utf-8",
    )
    page.goto(f"{outer}/share.html")
    share = page.frame_locator("#share")
    expect(share.locator(".tv-tile")).to_have_count(1)
    expect(share.locator(".tv-tile")).to_contain_text("Lobby uptime")

    # The same host name at another port (another origin, same site, so the session
    # cookie goes along): the signed-in tree is answered, and the browser refuses to
    # draw it in the frame.
    same_site = f"http://{urlsplit(base).hostname}:{urlsplit(outer).port}"
    (folder / "tree.html").write_text(
        f'<!doctype html><title>Intranet</title><iframe id="tree" src="{base}/tree/"'
        ' width="900" height="500"></iframe>',
        encoding="utf-8",
    )
    page.goto(f"{same_site}/tree.html")
    page.wait_for_load_state("load")
    (answer,) = tree_answers
    assert answer.status == 200  # the member's page, not a redirect to the login page
    assert "frame-ancestors 'none'" in (answer.header_value("content-security-policy") or "")
    framed = page.locator("#tree").element_handle().content_frame()
    assert framed is not None
    assert framed.url.startswith("chrome-error://")  # Chromium's blocked-frame page
    assert framed.locator("h1", has_text="KPI tree").count() == 0
    assert any("frame-ancestors 'none'" in m and "blocked" in m for m in messages), messages
    assert not any("frame-ancestors" in m and "/s/" in m for m in messages)
