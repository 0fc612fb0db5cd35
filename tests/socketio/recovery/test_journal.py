"""The journal of events kept for replay, and the Redis log's offsets (no I/O)."""

from __future__ import annotations

from realtime.engine.outgoing import Outgoing
from realtime.socketio.recovery.journal import Entry, Journal
from realtime.socketio.recovery.offsets import parse_offset
from realtime.socketio.recovery.options import RecoveryOptions, Snapshot


def snapshot(rooms: list[str], namespace: str = "/") -> Snapshot:
    return Snapshot("pid", "sid", namespace, rooms, {}, None, 0)


def entry(
    position: tuple[int, ...],
    text: str,
    rooms: tuple[str, ...] | None = None,
    *,
    at: float = 0.0,
    origin: str | None = None,
    seq: int | None = None,
    local: bool = False,
    original: tuple[int, ...] | None = None,
) -> Entry:
    return Entry(
        position,
        "/",
        rooms,
        frozenset(),
        Outgoing([text]),
        len(text),
        at,
        origin,
        seq,
        local=local,
        original=original,
    )


def texts(missed: list[Outgoing] | None) -> list[str] | None:
    return None if missed is None else [str(o.packets[0].data) for o in missed]


def test_replays_what_followed_the_start_and_matches_the_snapshot() -> None:
    journal = Journal(RecoveryOptions(), (0,))
    journal.append(entry((1,), "a", ("r",)), 0.0)
    journal.append(entry((2,), "b", ("other",)), 0.0)
    journal.append(entry((3,), "c"), 0.0)
    assert texts(journal.since((1,), snapshot(["sid", "r"]))) == ["c"]
    assert texts(journal.since((0,), snapshot(["sid", "r"]))) == ["a", "c"]


def test_refuses_a_start_it_does_not_reach_back_to() -> None:
    journal = Journal(RecoveryOptions(), (5, 0))
    journal.append(entry((6, 0), "a"), 0.0)
    assert journal.covers((5, 0)) and not journal.covers((4, 9))
    assert journal.since((4, 9), snapshot(["sid"])) is None


def test_a_trimmed_event_for_the_client_refuses_the_replay_and_others_do_not() -> None:
    journal = Journal(RecoveryOptions(max_packets=2), (0,))
    journal.append(entry((1,), "mine", ("r",)), 0.0)
    journal.append(entry((2,), "x", ("other",)), 0.0)
    journal.append(entry((3,), "y", ("other",)), 0.0)  # trims (1,)
    assert journal.since((0,), snapshot(["sid", "r"])) is None
    assert texts(journal.since((0,), snapshot(["sid", "elsewhere"]))) == []


def test_trims_by_age() -> None:
    journal = Journal(RecoveryOptions(max_disconnection_duration=10), (0,))
    journal.append(entry((1,), "old", at=0.0), 0.0)
    journal.trim(11.0)
    assert len(journal) == 0
    assert journal.since((0,), snapshot(["sid"])) is None


def test_skips_what_the_client_has_by_origin_and_sequence() -> None:
    journal = Journal(RecoveryOptions(), (0, 0))
    journal.append(entry((1, 0), "a", origin="n1", seq=4), 0.0)
    journal.append(entry((2, 0), "b", origin="n1", seq=5), 0.0)
    journal.append(entry((3, 0), "c", origin="n2", seq=5), 0.0)

    def has(origin: str | None, seq: int | None) -> bool:
        return origin == "n1" and seq is not None and seq <= 4

    assert texts(journal.since((0, 0), snapshot(["sid"]), has)) == ["b", "c"]


def test_a_local_entry_stops_being_replayed_once_its_copy_was_read() -> None:
    journal = Journal(RecoveryOptions(), (0, 0))
    journal.append(entry((1, 0, 1), "local", origin="me", seq=7, local=True), 0.0)
    assert texts(journal.since((0, 0), snapshot(["sid"]))) == ["local"]
    journal.supersede(7)
    journal.append(entry((2, 0), "copy", origin="me", seq=7), 0.0)
    assert texts(journal.since((0, 0), snapshot(["sid"]))) == ["copy"]


def test_an_entry_appended_again_is_not_replayed_to_a_client_past_where_it_first_stood() -> None:
    journal = Journal(RecoveryOptions(), (0, 0))
    journal.append(entry((9, 0), "again", original=(3, 0)), 0.0)
    assert texts(journal.since((4, 0), snapshot(["sid"]))) == []
    assert texts(journal.since((2, 0), snapshot(["sid"]))) == ["again"]


def test_marked_lost_refuses_replays_across_it() -> None:
    journal = Journal(RecoveryOptions(), (0, 0))
    journal.append(entry((2, 0), "a"), 0.0)
    journal.mark_lost("/", ["r"], (3, 0), 0.0)
    assert journal.since((1, 0), snapshot(["sid", "r"])) is None
    assert texts(journal.since((1, 0), snapshot(["sid", "s"]))) == ["a"]


def test_offsets_of_the_redis_log() -> None:
    assert parse_offset("1700-3") == ((1700, 3), None, 0)
    assert parse_offset("1700-3~node1234~42") == ((1700, 3), "node1234", 42)
    for bad in ("", "17", "1700-", "a-b", "1700-3~node", "1700-3~~4", "1700-3~n~x"):
        assert parse_offset(bad) is None, bad
