"""The central server: kiosk API (signed requests), policy check, operator dashboard, RSA AIS adapter.

It shares only pure domain code with the kiosk (``kiosk.tariffs``, ``kiosk.validation``,
``kiosk.signing``, ``kiosk.sale.model``); the kiosk never imports it.
"""
