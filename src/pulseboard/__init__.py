"""Pulseboard: an organization's headline numbers, always current."""
