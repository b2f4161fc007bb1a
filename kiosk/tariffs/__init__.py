"""Tariffs: the official coefficient tables and the premium calculation (placeholder until its issue lands)."""
