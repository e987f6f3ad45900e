"""Targets over time API: `GET/PUT /kpis/{id}/targets` (DESIGN §13)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["targets"])
