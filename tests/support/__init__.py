"""Test doubles and fixtures shared by several test packages (never installed on a kiosk)."""
