"""Annotations API: `GET/POST /kpis/{id}/annotations`, `DELETE /annotations/{id}` (DESIGN §13)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["annotations"])
