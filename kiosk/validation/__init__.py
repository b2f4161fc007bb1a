"""Validation of customer input (placeholder until the quote issue lands)."""
