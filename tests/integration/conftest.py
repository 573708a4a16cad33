"""Fixtures shared by the integration tests."""

from tests.fal_support import fal  # noqa: F401 - the fal stand-in fixture
