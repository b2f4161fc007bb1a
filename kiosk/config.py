"""Kiosk configuration (placeholder until its issue lands; the layering contract names it)."""
