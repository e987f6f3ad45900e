"""Members API: `GET /members` (admin tokens), to pick a KPI's owner (DESIGN §13)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["members"])
