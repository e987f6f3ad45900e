"""The poll fast path: an unchanged live board answers 304 before the session is read.

Placed early in ``MIDDLEWARE`` (after the request guards, before sessions): a GET that
carries a valid poll pass (``web.live.poll_pass``) and an If-None-Match that still
matches its board gets ``304 Not Modified`` after one query, the board's change stamp.
Every other request, and every poll whose board changed, goes on through the full stack.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from pulseboard.web.live import answer_from_pass


class LivePollMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        answer = answer_from_pass(request)
        return answer if answer is not None else self.get_response(request)
