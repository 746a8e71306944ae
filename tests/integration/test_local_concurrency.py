"""The local stack is as concurrent as AWS: a function serves overlapping invocations from several
execution environments, and DynamoDB conditional writes stay atomic under that concurrency.

Overlap is proven by events (two invocations meet inside the handler), never by timing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.provision import Dispatcher, FunctionError, FunctionSpec, LocalStack, lambda_dispatch, provision

MOTO_CONFIG: Any = {"lambda": {"use_docker": False}}
#: a bound on every wait, so a broken dispatcher fails the test instead of hanging it
BOUND = 10.0


class Meeting:
    """Invocations that wait inside the handler until ``parties`` of them are inside at once."""

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties, timeout=BOUND)
        self.inside: list[str] = []
        self.release = threading.Event()


MEETING: dict[str, Meeting] = {}


def meet_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    meeting = MEETING["current"]
    meeting.inside.append(event["id"])
    if event.get("meet", True):
        meeting.barrier.wait()  # raises BrokenBarrierError unless the other invocations are inside too
    if event.get("hold"):
        assert meeting.release.wait(BOUND), "never released"
    return {"id": event["id"], "stream": context.log_stream_name}


def _spec(name: str = "Meet") -> FunctionSpec:
    return FunctionSpec(
        name=name,
        handler=f"{__name__}.meet_handler",
        environment={},
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        timeout=30,
    )


def _dispatcher(**kwargs: Any) -> Dispatcher:
    stack = LocalStack(stack_name="T", region="us-east-1", account="123456789012", template={})
    stack.functions["Meet"] = _spec()
    return Dispatcher(stack, **kwargs)


def _in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # the assertion below reports it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND * 2)
    return results


def test_two_invocations_of_one_function_overlap_in_their_own_environments() -> None:
    MEETING["current"] = Meeting(2)
    dispatcher = _dispatcher()
    try:
        results = _in_threads([partial(dispatcher.invoke, "Meet", {"id": str(i)}) for i in range(2)])
    finally:
        dispatcher.shutdown()
    assert all(isinstance(r, dict) for r in results), results  # serialized, the barrier would have broken
    assert sorted(r["id"] for r in results) == ["0", "1"]
    assert results[0]["stream"] != results[1]["stream"]  # one log stream per environment, as on Lambda
    assert sorted(i.environment for i in dispatcher.invocations) == [1, 2]
    assert all(i.cold for i in dispatcher.invocations)


def test_environments_are_reused_warm_and_bounded() -> None:
    MEETING["current"] = meeting = Meeting(1)
    dispatcher = _dispatcher(max_concurrency=2, lock_timeout=0.05)
    try:
        holders = [
            threading.Thread(target=dispatcher.invoke, args=("Meet", {"id": f"h{i}", "meet": False, "hold": True}))
            for i in range(2)
        ]
        for t in holders:
            t.start()
        deadline = time.monotonic() + BOUND
        while len(meeting.inside) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(meeting.inside) == 2  # both environments busy
        with pytest.raises(FunctionError) as throttled:
            dispatcher.invoke("Meet", {"id": "third", "meet": False})
        assert throttled.value.error_type == "TooManyRequestsException"
        assert "third" not in meeting.inside  # the handler never ran
        meeting.release.set()
        for t in holders:
            t.join(BOUND)
        again = dispatcher.invoke("Meet", {"id": "warm", "meet": False})
    finally:
        dispatcher.shutdown()
    assert again["id"] == "warm"
    assert dispatcher.environments("Meet") == 2
    warm = dispatcher.invocations[-1]
    assert warm.ok and not warm.cold and warm.environment in {1, 2}


def test_async_invocations_wait_for_an_environment_instead_of_being_throttled() -> None:
    MEETING["current"] = Meeting(1)
    dispatcher = _dispatcher(max_concurrency=1, lock_timeout=0.0)
    try:
        for i in range(5):
            dispatcher.invoke_async("Meet", json.dumps({"id": str(i)}), source="test")
        assert dispatcher.drain(BOUND)
    finally:
        dispatcher.shutdown()
    assert [i.ok for i in dispatcher.invocations] == [True] * 5
    assert {i.environment for i in dispatcher.invocations} == {1}


# ---- through moto: SDK invocations and DynamoDB ------------------------------------------------
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "ItemsTable1234ABCD": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}},
        "Meet1234ABCD": {"Type": "AWS::Lambda::Function", "Properties": {
            "Handler": f"{__name__}.meet_handler", "Runtime": "python3.14", "Role": "arn:aws:iam::123456789012:role/r",
            "Timeout": 30, "Code": {"S3Bucket": "b", "S3Key": "k"}}},
    }
}  # fmt: skip


@pytest.fixture
def local() -> Iterator[tuple[LocalStack, Dispatcher]]:
    with mock_aws(config=MOTO_CONFIG):
        stack = provision(json.loads(json.dumps(TEMPLATE)), stack_name="Race")
        with lambda_dispatch(stack, apply_environment=False) as dispatcher:
            yield stack, dispatcher


def _hold_after_conditions(monkeypatch: pytest.MonkeyPatch, hold: Callable[[], object]) -> None:
    """Call ``hold`` in every moto DynamoDB write between its condition check and the write itself."""
    import moto.dynamodb.models as backend_module
    import moto.dynamodb.models.table as table_module

    original = table_module.get_filter_expression

    class Held:
        def __init__(self, op: Any):
            self.op = op

        def expr(self, item: Any) -> Any:
            result = self.op.expr(item)
            hold()
            return result

    def held(*args: Any, **kwargs: Any) -> Held:
        return Held(original(*args, **kwargs))

    monkeypatch.setattr(table_module, "get_filter_expression", held)
    monkeypatch.setattr(backend_module, "get_filter_expression", held)


class Arrivals:
    """How many writers' requests have reached moto (counted at botocore's ``before-send``, before the local
    stack's lock); ``hold``, after a writer's condition check, waits until all expected writers have. Without the
    lock the others are then on their way to their own checks, so they pass theirs before the first writes; with
    it, each waits for the lock and finds the write done."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = self._expected = 0

    def watch(self, client: Any, writers: int) -> None:
        """Count ``client``'s requests from now on; expect ``writers`` of them."""
        with self._changed:
            self._count, self._expected = 0, writers
        client.meta.events.register_first("before-send.dynamodb", self._arrived)

    def _arrived(self, **_: Any) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def hold(self) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._count >= self._expected, BOUND), "a writer never reached moto"


@pytest.fixture
def arrivals(monkeypatch: pytest.MonkeyPatch) -> Arrivals:
    """Hold moto's writes between their condition check and the write itself until every writer's request has
    reached moto, so that without a lock concurrent writers pass the check together."""
    held = Arrivals()
    _hold_after_conditions(monkeypatch, held.hold)
    return held


@pytest.fixture
def conditions_checked_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each of the control's 20 writers after its condition check until all 20 have checked. The control used
    a 20 ms sleep there: it needed the others to reach their checks within the first writer's 20 ms, which a
    loaded machine did not give (19 of 20 failed, `make test-py313` on four workers). If moto serialized its
    writes, the barrier would break instead (a writer's exception in the results)."""
    checked = threading.Barrier(20, timeout=BOUND)
    _hold_after_conditions(monkeypatch, checked.wait)


def _conditional_puts(table: str, writers: int, arrivals: Arrivals | None = None) -> list[Any]:
    ddb = boto3.client("dynamodb")
    if arrivals is not None:
        arrivals.watch(ddb, writers)
    start = threading.Barrier(writers, timeout=BOUND)

    def put(i: int) -> str:
        start.wait()
        try:
            ddb.put_item(
                TableName=table,
                Item={"pk": {"S": "lock"}, "owner": {"S": str(i)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            return "failed"
        return "won"

    return _in_threads([partial(put, i) for i in range(writers)])


def test_sdk_invocations_of_one_function_overlap(local: tuple[LocalStack, Dispatcher]) -> None:
    stack, _ = local
    MEETING["current"] = Meeting(2)
    lam = boto3.client("lambda")
    name = stack.physical("Meet1234ABCD")
    results = _in_threads(
        [partial(lam.invoke, FunctionName=name, Payload=json.dumps({"id": str(i)})) for i in range(2)]
    )
    payloads = [json.loads(r["Payload"].read()) for r in results]
    assert all("FunctionError" not in r for r in results), payloads
    assert sorted(p["id"] for p in payloads) == ["0", "1"]


def test_concurrent_conditional_puts_on_one_key_let_exactly_one_win(
    local: tuple[LocalStack, Dispatcher], arrivals: Arrivals
) -> None:
    stack, _ = local
    results = _conditional_puts(stack.physical("ItemsTable1234ABCD"), 20, arrivals)
    assert sorted(map(str, results)) == ["failed"] * 19 + ["won"], results


def test_concurrent_conditional_updates_and_transactions_are_atomic(
    local: tuple[LocalStack, Dispatcher], arrivals: Arrivals
) -> None:
    stack, _ = local
    table = stack.physical("ItemsTable1234ABCD")
    ddb = boto3.client("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "version": {"N": "0"}})
    arrivals.watch(ddb, 20)
    start = threading.Barrier(20, timeout=BOUND)

    def bump(i: int) -> str:  # optimistic locking: every writer read version 0
        start.wait()
        try:
            if i % 2:
                ddb.update_item(
                    TableName=table,
                    Key={"pk": {"S": "counter"}},
                    UpdateExpression="SET version = :next, winner = :me",
                    ConditionExpression="version = :seen",
                    ExpressionAttributeValues={":seen": {"N": "0"}, ":next": {"N": "1"}, ":me": {"S": str(i)}},
                )
            else:
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": {"pk": {"S": "counter"}},
                                "UpdateExpression": "SET version = :next, winner = :me",
                                "ConditionExpression": "version = :seen",
                                "ExpressionAttributeValues": {
                                    ":seen": {"N": "0"},
                                    ":next": {"N": "1"},
                                    ":me": {"S": str(i)},
                                },
                            }
                        }
                    ]
                )
        except (ddb.exceptions.ConditionalCheckFailedException, ddb.exceptions.TransactionCanceledException):
            return "failed"
        return "won"

    results = _in_threads([partial(bump, i) for i in range(20)])
    assert sorted(map(str, results)) == ["failed"] * 19 + ["won"], results
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]
    assert item["version"] == {"N": "1"}


def test_without_the_lock_moto_lets_concurrent_conditional_puts_all_win(conditions_checked_together: None) -> None:
    """The control: the race above is real in moto, so the tests above can fail (and would without the patch)."""
    with mock_aws(config=MOTO_CONFIG):
        boto3.client("dynamodb").create_table(
            TableName="t", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        results = _conditional_puts("t", 20)
    assert results == ["won"] * 20, results
