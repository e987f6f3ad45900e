"""KPI tree API: `GET /kpis/tree` (DESIGN §13); registered before `/kpis/{id}`."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["tree"])
