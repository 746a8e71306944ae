"""``local.patches.serialized_dynamodb``: each DynamoDB request is atomic in moto, as in DynamoDB, its response
included. moto's ``get_item`` hands the live item to its response layer, which used to serialize it after the
operation's lock was released, while another thread's update changed it (``dictionary changed size during
iteration`` in a workflow test on Python 3.13): the whole request now runs under the lock."""

from __future__ import annotations

import threading

import boto3
from moto import mock_aws

from local import patches


def test_a_whole_request_waits_for_the_lock_response_included() -> None:
    with mock_aws(), patches.serialized_dynamodb():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )  # fmt: skip
        client.put_item(TableName="t", Item={"pk": {"S": "one"}})
        answered = threading.Event()

        def read() -> None:  # a request whose backend call is not an item operation: only the request's lock holds it
            client.describe_table(TableName="t")
            answered.set()

        with patches._dynamodb_lock:  # another request is in progress
            reader = threading.Thread(target=read)
            reader.start()
            # the read cannot answer while another request holds the lock (it answered at once before the fix)
            assert not answered.wait(1.0)
        reader.join(timeout=30)
        assert answered.is_set()
