"""``SecretStore``: ``fakes.FakeSecretStore`` against ``SecretsManagerStore`` on moto.

A JSON object is returned as it is; any other string as ``{"value": ...}``; a missing secret raises
(ResourceNotFoundException); a rotated secret is seen once the cache's ``max_age`` has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from service.adapters.secrets import SecretStore
from service.recordings.fakes import FakeClock, FakeSecretStore

MAX_AGE = 300.0


@dataclass
class Side:
    store: SecretStore
    #: create or rotate a secret (what an operator or the rotation does)
    put: Callable[[str, str], None]


@pytest.fixture(scope="module")
def secretsmanager() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def side(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> Side:
    if backend == "fake":
        fake = FakeSecretStore()
        return Side(fake, fake.secrets.__setitem__)
    from service.adapters.secrets import SecretsManagerStore

    client = request.getfixturevalue("secretsmanager")

    def put(name: str, value: str) -> None:
        try:
            client.put_secret_value(SecretId=name, SecretString=value)
        except client.exceptions.ResourceNotFoundException:
            client.create_secret(Name=name, SecretString=value)

    return Side(SecretsManagerStore(max_age=MAX_AGE, client_factory=lambda: client, clock=clock), put)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ('{"app_certificate": "abc", "n": 1}', {"app_certificate": "abc", "n": 1}),
        ("plain-text", {"value": "plain-text"}),
        ("[1, 2]", {"value": "[1, 2]"}),  # JSON, but not an object
    ],
)
def test_values_as_json_objects(side: Side, backend: str, raw: str, value: dict[str, Any]) -> None:
    name = f"contract/{backend}/{abs(hash(raw))}"
    side.put(name, raw)
    assert side.store.get_json(name) == value


def test_a_missing_secret_raises(side: Side) -> None:
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        side.store.get_json("contract/never-created")


def test_a_rotated_secret_is_seen_within_max_age(side: Side, backend: str, clock: FakeClock) -> None:
    name = f"contract/{backend}/rotated"
    side.put(name, '{"v": 1}')
    assert side.store.get_json(name) == {"v": 1}
    side.put(name, '{"v": 2}')
    clock.advance(MAX_AGE + 1)
    assert side.store.get_json(name) == {"v": 2}
