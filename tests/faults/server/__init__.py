"""Hostile input against the central server."""
