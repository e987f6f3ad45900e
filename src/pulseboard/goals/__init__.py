"""Goals: cycles, objectives and key results that follow KPIs (never written by them)."""
