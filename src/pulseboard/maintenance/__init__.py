"""Operator maintenance: moving an embedded installation to PostgreSQL, and backups."""
