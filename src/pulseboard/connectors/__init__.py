"""Connectors: where each KPI's values come from (manual, webhook, https_get, sheets)."""
