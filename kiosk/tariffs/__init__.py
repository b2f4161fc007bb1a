"""Tariffs: official coefficient tables and the premium (placeholder until its issue lands)."""
