"""Gaps in the recovery log: one entry for many dropped ones, and what it names."""

from __future__ import annotations

from realtime.socketio.recovery import gaps


def event(namespace: str, rooms: list[str] | None) -> dict[str, object]:
    return {"ns": namespace, "rooms": rooms, "exclude": [], "fmt": "default", "parts": [b"2"]}


def test_one_gap_names_the_rooms_of_every_dropped_event() -> None:
    gap = gaps.merge([event("/", ["a"]), event("/", ["b", "a"]), event("/chat", ["c"])])
    assert gap is not None and gaps.is_gap(gap)
    assert gaps.lost_in(gap) == [("/", ["a", "b"]), ("/chat", ["c"])]


def test_a_broadcast_to_everyone_loses_the_whole_namespace() -> None:
    gap = gaps.merge([event("/", ["a"]), event("/", None), event("/", ["b"])])
    assert gap is not None and gaps.lost_in(gap) == [("/", None)]


def test_gaps_merge_into_one_and_never_chain() -> None:
    first = gaps.merge([event("/", ["a"])])
    assert first is not None
    again = gaps.merge([first, event("/", ["b"])])
    assert again is not None and gaps.lost_in(again) == [("/", ["a", "b"])]


def test_room_changes_alone_make_no_gap() -> None:
    assert gaps.merge([{"op": "m.enter", "ns": "/", "sid": "x", "room": "r"}]) is None


def test_too_many_rooms_stand_for_the_namespace() -> None:
    rooms = [f"room-{i}" for i in range(gaps.MAX_ROOMS + 1)]
    gap = gaps.merge([event("/", [room]) for room in rooms])
    assert gap is not None and gaps.lost_in(gap) == [("/", None)]


def test_malformed_gaps_name_nothing() -> None:
    assert gaps.lost_in({"gap": [["/"], [3, None], "x"]}) == []
    assert gaps.lost_in({"gap": True}) == []
