"""The sale rig (a service on fakes) for the presenter tests."""

from tests.unit.sale.conftest import rig, tariffs  # noqa: F401
