"""Redis behind Sentinel: after a failover no process reads what the old primary left behind.

Replication is asynchronous, and while the primary is dead (before Sentinel promotes the
replica) cache writes fail. So the promoted replica can still say "session is live" for a
session revoked just before or during the failover, for as long as that entry lives. To rule
that out, every cache key carries Sentinel's configuration epoch of the primary, which goes up
by one with each failover: a process connecting to a new primary learns the new epoch first,
and the command that found it fails like any cache outage (the caller reads the database), so
everything after it uses keys the old primary never wrote. Auth state and rate-limit counters
start empty on the new primary and refill from the database.

The epoch is per process. With gunicorn's sync workers (one thread each) the switch is exact;
with threaded workers a command whose keys were made in the instant before another thread's
switch can still run once against the new primary.
"""

from redis.exceptions import ConnectionError, ResponseError, TimeoutError
from redis.sentinel import SentinelConnectionPool, SentinelManagedConnection


class _Namespace:
    epoch: int | None = None


namespace = _Namespace()


def make_key(key: str, key_prefix: str, version: int) -> str:
    """Django's cache key function, with the primary's Sentinel epoch in it."""
    return f"{key_prefix}:e{namespace.epoch}:{version}:{key}"


def primary_epoch(proxy, address: tuple | None = None) -> int:
    """The configuration epoch Sentinel reports for the primary (at `address`, when given)."""
    for sentinel in proxy.sentinel_manager.sentinels:
        try:
            state = sentinel.sentinel_master(proxy.service_name)
        except (ConnectionError, TimeoutError, ResponseError):
            continue
        if address is None or (state["ip"], int(state["port"])) == (address[0], int(address[1])):
            return int(state["config-epoch"])
    raise ConnectionError("no Sentinel confirms the Redis primary; treating the cache as down")


class EpochCheckedConnection(SentinelManagedConnection):
    def connect_to(self, address):
        epoch = primary_epoch(self.connection_pool, address)
        super().connect_to(address)
        if epoch != namespace.epoch:
            namespace.epoch = epoch
            self.disconnect()
            # The keys of the command in hand were made with the old epoch: fail it.
            raise ConnectionError(f"Redis primary changed (Sentinel epoch {epoch}); cache keys renamed")


class EpochCheckedSentinelPool(SentinelConnectionPool):
    """A primary-only Sentinel pool whose connections keep `namespace.epoch` current."""

    def __init__(self, service_name, sentinel_manager, **kwargs):
        kwargs.setdefault("connection_class", EpochCheckedConnection)
        super().__init__(service_name, sentinel_manager, **kwargs)
        if namespace.epoch is None:
            try:  # learn the epoch up front, so a fresh process's first command need not fail
                namespace.epoch = primary_epoch(self.proxy)
            except ConnectionError:
                pass
