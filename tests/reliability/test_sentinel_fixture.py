"""The Sentinel deployment of tests/support/sentinel.py works, independently of realtime.

A primary, a replica and three sentinels on loopback: SIGKILL the primary,
and the sentinels elect the replica, which then takes writes.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.sentinel import SERVICE, SentinelDeployment


@pytest.mark.timeout(90)
def test_the_sentinels_promote_the_replica_when_the_primary_dies(
    sentinels: SentinelDeployment,
) -> None:
    first = sentinels.primary_address()
    assert first == ("127.0.0.1", sentinels.primary_port)
    # Through redis-py's Sentinel client, as an application finds it.
    watcher = redis.sentinel.Sentinel(
        [("127.0.0.1", port) for port in sentinels.sentinel_ports], socket_timeout=2
    )
    assert watcher.discover_master(SERVICE) == first
    assert watcher.discover_slaves(SERVICE) == [("127.0.0.1", sentinels.replica_port)]
    primary = watcher.master_for(SERVICE, socket_timeout=2)
    primary.set("before", "failover")
    # The write reaches the replica before the primary dies.
    replica = redis.Redis(port=sentinels.replica_port, socket_timeout=2)
    deadline = time.monotonic() + 5
    while replica.get("before") != b"failover":
        assert time.monotonic() < deadline, "the replica did not get the write"
        time.sleep(0.05)

    killed_at = time.monotonic()
    old = sentinels.kill_primary()
    assert old == sentinels.primary_port
    promoted = sentinels.wait_for_failover(old, timeout=30)
    took = time.monotonic() - killed_at
    assert promoted == ("127.0.0.1", sentinels.replica_port)
    assert watcher.discover_master(SERVICE) == promoted
    # The new primary takes writes and kept what was written before.
    assert primary.get("before") == b"failover"
    primary.set("after", "failover")
    assert replica.get("after") == b"failover"
    assert took < 20, f"the failover took {took:.1f} s"
