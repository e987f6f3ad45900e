"""Share links API: `GET/POST /share-links`, `DELETE /share-links/{id}` (DESIGN §12)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["share-links"])
