"""Device drivers: one package per device (payment terminal, receipt printer, service card reader).

Each package holds the device Protocol, the real backend, a simulator that speaks the real wire
protocol over a real transport, and a recorder fake for unit tests. Backends are opened by URL.
"""
