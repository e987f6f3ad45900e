"""Teams API: `GET/POST /teams`, `PATCH/DELETE /teams/{id}` (DESIGN §13)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["teams"])
