"""Presence from RTC events on moto: every order of a small history gives the in-order result.

Exhaustive over permutations (the random replay covers scale; this covers every interleaving of the
cases that are easy to get wrong: a role change overtaking its join, a destroy overtaking a leave,
a stale join after a leave, duplicates).
"""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from moto import mock_aws
from service.adapters.dynamodb import from_item
from service.presence.logic import BOOKKEEPING
from service.presence.repository import DynamoDBPresence
from service.webhooks.logic import dispatch_notice
from service.webhooks.settings import ProcessorSettings

TABLE = "presence-permutations"
UID = 2_845_863_044  # above 2^31
SETTINGS = ProcessorSettings(presence_table=TABLE)


def _notice(n: int, event_type: int, **payload: Any) -> dict[str, Any]:
    return {"noticeId": f"n{n}", "productId": 1, "eventType": event_type, "payload": payload}


def _history(channel: str) -> list[dict[str, Any]]:
    return [
        _notice(1, 101, channelName=channel, ts=100),
        _notice(2, 105, channelName=channel, uid=UID, platform=7, clientSeq=11, ts=100, account="viewer"),
        _notice(3, 111, channelName=channel, uid=UID, clientSeq=12, ts=105),
        _notice(4, 104, channelName=channel, uid=UID, platform=7, clientSeq=13, reason=999, ts=130, duration=30,
                account="viewer"),
        _notice(5, 102, channelName=channel, ts=131, lastUid=UID),
    ]  # fmt: skip


@pytest.fixture
def store():
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "channel", "KeyType": "HASH"}, {"AttributeName": "uid", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "channel", "AttributeType": "S"},
                {"AttributeName": "uid", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoDBPresence(TABLE, client=ddb)


def _apply(store: DynamoDBPresence, notices: list[dict[str, Any]]) -> list[str]:
    return [dispatch_notice(n, presence=store, recordings=None, settings=SETTINGS, now=1e9)[1] for n in notices]


def _state(store: DynamoDBPresence, channel: str) -> dict[str, Any]:
    return {
        item["uid"]: {k: v for k, v in item.items() if k not in BOOKKEEPING and k != "channel"}
        for item in store.channel_items(channel)
    }


def test_in_order_result(store):
    outcomes = _apply(store, _history("ordered"))
    assert outcomes == ["presence:applied"] * 5
    state = _state(store, "ordered")
    user = state[str(UID)]
    assert user["clientSeq"] == 13
    assert user["presence"] == {
        "state": "left",
        "role": "host",
        "lastEventType": 104,
        "eventTs": 130,
        "leftTs": 130,
        "leaveReason": 999,
        "leaveReasonName": "abnormal_user",
        "sessionDuration": 30,
    }
    assert user["session"] == {"platform": 7, "account": "viewer", "bot": False, "joinedTs": 100}
    assert state["#channel"]["presence"] == {"state": "destroyed", "destroyedTs": 131, "lastEventType": 102,
                                             "lastUid": UID}  # fmt: skip


def test_every_order_converges_on_the_in_order_result(store):
    _apply(store, _history("ordered"))
    expected = _state(store, "ordered")
    for number, order in enumerate(itertools.permutations(range(5))):
        channel = f"perm{number}"
        history = _history(channel)
        shuffled = [history[i] for i in order]
        _apply(store, shuffled + shuffled[:2])  # and a couple of duplicates at the end
        assert _state(store, channel) == expected, order


def test_role_change_first_keeps_the_session_from_the_join(store):
    history = _history("role-first")
    outcomes = _apply(store, [history[2], history[1]])
    assert outcomes == ["presence:applied", "presence:session_filled"]
    user = _state(store, "role-first")[str(UID)]
    assert user["presence"]["role"] == "host"  # the newer event's state
    assert user["session"]["platform"] == 7  # the older join's description


def test_destroy_marks_users_whose_leave_was_lost(store):
    history = _history("lost-leave")
    outcomes = _apply(store, [history[0], history[1], history[4]])  # create, join, destroy; the leave never came
    assert outcomes[-1] == "presence:applied+cleared:1"
    user = _state(store, "lost-leave")[str(UID)]
    assert user["presence"]["state"] == "left"
    assert user["presence"]["leaveCause"] == "channel_destroyed"
    assert user["clientSeq"] == 11  # kept: the real leave (seq 13) still applies
    assert _apply(store, [history[3]]) == ["presence:applied"]
    assert _state(store, "lost-leave")[str(UID)]["presence"]["leaveReason"] == 999


def test_rejoin_after_destroy_is_not_cleared_by_a_late_destroy(store):
    history = _history("rejoin")
    rejoin = _notice(9, 105, channelName="rejoin", uid=UID, platform=7, clientSeq=20, ts=200)
    _apply(store, [*history[:4], rejoin, history[4]])  # the old destroy (ts 131) arrives after the rejoin (ts 200)
    user = _state(store, "rejoin")[str(UID)]
    assert user["presence"]["state"] == "in"
    assert user["clientSeq"] == 20


def test_unorderable_and_unknown_events_are_skipped(store):
    outcomes = _apply(
        store,
        [
            _notice(1, 103, channelName="odd", uid=5, platform=1, ts=1),  # no clientSeq
            _notice(2, 109, channelName="odd", uid=5),  # undocumented
            _notice(3, 104, channelName="odd", clientSeq=1),  # no uid
            _notice(4, 101, channelName="odd"),  # no ts
            {"noticeId": "x", "productId": 7, "eventType": 1, "payload": {}},  # another product
        ],
    )
    assert outcomes == [
        "presence:unordered",
        "ignored: undocumented RTC event",
        "invalid: RTC event 104 without uid",
        "presence:unordered",
        "ignored: product not handled",
    ]
    assert store.channel_items("odd") == []


def test_items_read_back_as_numbers(store):
    _apply(store, _history("types"))
    raw = store.client.get_item(TableName=TABLE, Key={"channel": {"S": "types"}, "uid": {"S": str(UID)}})["Item"]
    assert raw["clientSeq"] == {"N": "13"}
    assert from_item(raw)["session"]["joinedTs"] == 100


def test_a_channel_name_too_long_for_a_key_is_skipped_not_retried(store):
    """Regression: a 3 KB channelName failed every DynamoDB write (key > 2048 bytes), so the stream retried it."""
    outcome = _apply(store, [_notice(900, 105, channelName="c" * 3000, uid=UID, clientSeq=1, ts=1)])
    assert outcome[0].startswith("invalid: channelName")


def test_an_abnormal_leave_triggers_the_configured_one_time_kick_once(store):
    """Reason 999 -> the configured action, only for the user's latest state (a stale repeat kicks nobody);
    off by default."""
    from service.webhooks.logic import one_time_kick

    kicks: list[tuple[str, dict[str, Any]]] = []
    action = one_time_kick(lambda channel, **kw: kicks.append((channel, kw)) or 77)
    events = _history("abnormal")
    join, leave = events[1], events[3]
    assert dispatch_notice(join, presence=store, recordings=None, settings=SETTINGS, now=1e9, on_abnormal_leave=action)
    off = dispatch_notice(leave, presence=store, recordings=None, settings=SETTINGS, now=1e9, on_abnormal_leave=action)
    assert off[1] == "presence:applied" and kicks == []  # "none" by default
    kick = SETTINGS.model_copy(update={"abnormal_leave_action": "kick"})
    again = dispatch_notice(leave, presence=store, recordings=None, settings=kick, now=1e9, on_abnormal_leave=action)
    assert again[1] != "presence:applied; abnormal leave: kicked" and kicks == []  # a repeat is not the latest state
    fresh = _history("abnormal2")
    dispatch_notice(fresh[1], presence=store, recordings=None, settings=kick, now=1e9, on_abnormal_leave=action)
    done = dispatch_notice(fresh[3], presence=store, recordings=None, settings=kick, now=1e9, on_abnormal_leave=action)
    assert done[1] == "presence:applied; abnormal leave: kicked"
    assert kicks == [("abnormal2", {"uid": UID, "seconds": 0, "privileges": ["join_channel"]})]


def test_a_failed_kick_is_logged_not_raised() -> None:
    from service.webhooks.logic import one_time_kick

    def broken(channel: str, **kw: Any) -> int:
        raise RuntimeError("agora down")

    one_time_kick(broken)("room", 5)  # no exception: the presence write already happened
