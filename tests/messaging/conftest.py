"""Fixtures of the messaging tests."""

import pytest

from tests.messaging.test_webhooks_out import Receiver


@pytest.fixture
def receiver(settings):
    """A real HTTP receiver on this machine for outgoing webhooks (loopback allowed for it)."""
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    r = Receiver()
    yield r
    r.close()
