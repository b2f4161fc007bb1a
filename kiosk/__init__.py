"""The OSAGO kiosk: domain (tariffs, sale, journal) and application services.

This package never imports a UI toolkit or a device library; devices are reached through the
Protocols in ``drivers`` and built from config in ``kiosk.bootstrap``.
"""
