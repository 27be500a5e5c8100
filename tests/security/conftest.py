"""Fixtures for the abuse and hardening regression tests: the embedded stack on real services (tests.conftest)
and the small published model and photo of the API tests."""

from tests.api.conftest import coffee_png, published, tiny_weights

__all__ = ["coffee_png", "published", "tiny_weights"]
