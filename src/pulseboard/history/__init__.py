"""Value writes and the KPI history: the one sink every value passes through."""
