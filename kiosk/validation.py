"""Validation of customer input (placeholder until its issue lands)."""
