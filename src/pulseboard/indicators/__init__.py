"""The KPI: its shape, status, formatting and quick-create parsing."""
