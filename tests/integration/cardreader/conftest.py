"""A real pcscd with vsmartcard's vpcd reader, and our virtual service card on it: the ``pcscd`` fixture
lives in ``tests/conftest.py`` (one per session, shared with the technician's e2e test)."""
