import pytest
from fake_gatehouse import INTROSPECTION_KEY, FakeGatehouse
from gatehouse_client import Verifier


class FakeClock:
    """Seconds that move only when a test says so (drives the Verifier's caches)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def gatehouse():
    with FakeGatehouse() as gatehouse:
        yield gatehouse


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(gatehouse, clock) -> Verifier:
    return Verifier(gatehouse.url, introspection_key=INTROSPECTION_KEY, clock=clock)


@pytest.fixture
def eddsa_kid(gatehouse) -> str:
    return gatehouse.add_key("EdDSA")


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
