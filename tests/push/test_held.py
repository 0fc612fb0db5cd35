"""The stores of held pushes: windows, comebacks, and claiming a due push once.

The memory store, and the Redis one on a real Redis, through the same tests;
claiming is raced by several threads with a store each (as processes would
be), and each push goes to one of them only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from realtime.async_modes import get_async_mode
from realtime.push.held import HeldPush, HoldStore, MemoryHolds, RedisHolds
from tests.conftest import require
from tests.support.redis_server import RedisServer, redis_server_path


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def stores(request: pytest.FixtureRequest) -> Iterator[list[HoldStore]]:
    """Four stores that share what they keep (the same one, in memory)."""
    if request.param == "memory":
        one = MemoryHolds()
        yield [one, one, one, one]
        return
    server: RedisServer = request.getfixturevalue("redis")
    mode = get_async_mode("threading")
    prefix = f"held-{time.monotonic_ns()}"
    made: list[HoldStore] = [RedisHolds(server.url, mode, prefix) for _ in range(4)]
    yield made
    for store in made:
        store.close()


def held(n: int, due: float) -> HeldPush:
    return HeldPush(
        id=f"p{n}",
        user="ada",
        scope="/",
        payload=b'{"n":%d}' % n,
        ttl=60,
        urgency="normal",
        awaiting=("pid-1",),
        held_at=due - 5,
        due=due,
    )


def test_windows_close_on_time_or_when_the_connection_comes_back(
    stores: list[HoldStore],
) -> None:
    one, other = stores[0], stores[1]
    now = time.time()
    one.opened("/", "ada", "pid-1", now + 60)
    one.opened("/", "ada", "pid-2", now + 1)
    one.opened("/chat", "ada", "pid-3", now + 60)
    assert other.windows("/", "ada", now) == {
        "pid-1": pytest.approx(now + 60),
        "pid-2": pytest.approx(now + 1),
    }
    assert other.windows("/", "ada", now + 2) == {"pid-1": pytest.approx(now + 60)}
    assert other.windows("/", "grace", now) == {}
    assert not other.came_back_since(("pid-1",), now - 10)
    other.came_back("/", "ada", "pid-1", now, keep=60)
    assert one.windows("/", "ada", now) == {}
    assert one.windows("/chat", "ada", now) == {"pid-3": pytest.approx(now + 60)}
    # A comeback counts for pushes held before it, not after.
    assert one.came_back_since(("pid-9", "pid-1"), now - 10)
    assert not one.came_back_since(("pid-1",), now + 1)


def test_a_held_push_is_claimed_when_due_and_by_one_claimer_only(
    stores: list[HoldStore],
) -> None:
    now = time.time()
    first = stores[0]
    first.hold(held(1, now - 1))
    first.hold(held(2, now + 60))
    for n in range(3, 43):
        first.hold(held(n, now - 2))
    assert first.next_due() == pytest.approx(now - 2)
    claimed: list[list[HeldPush]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def claim(index: int) -> None:
        start.wait()
        claimed[index].extend(stores[index].claim_due(time.time()))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = sorted(push.id for pushes in claimed for push in pushes)
    assert ids == sorted(["p1", *(f"p{n}" for n in range(3, 43))])
    (one,) = [push for pushes in claimed for push in pushes if push.id == "p1"]
    assert one == held(1, now - 1)
    assert first.next_due() == pytest.approx(now + 60)
    assert first.claim_due(now) == []
