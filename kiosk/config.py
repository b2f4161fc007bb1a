"""Kiosk configuration (placeholder so the layering contract resolves until the config issue lands)."""
