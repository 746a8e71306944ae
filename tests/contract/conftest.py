"""Contract tests: every case runs twice, against a port's in-memory fake and against its real adapter (moto
in-process, or the emulator on loopback), so a fake cannot drift from what it stands for.

The ``backend`` fixture names the side ("fake" or "real"); each module builds its port from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service.recordings.fakes import FakeClock

RECORDINGS_TABLE = "contract-recordings"


@pytest.fixture(params=["fake", "real"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process (no server, no network)."""
    from moto import mock_aws

    with mock_aws():
        yield


def create_recordings_table(ddb: Any, name: str = RECORDINGS_TABLE) -> None:
    """The RecordingsTable as ``infra/constructs/recording.py`` declares it (key, GSIs, on demand)."""
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sid", "AttributeType": "S"},
            {"AttributeName": "channel", "AttributeType": "S"},
            {"AttributeName": "activeStatus", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": "bySid", "KeySchema": [{"AttributeName": "sid", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}},
            # keys only, as infra/constructs/recording.py provisions them: the repository reads the rows itself
            {"IndexName": "byChannel", "KeySchema": [{"AttributeName": "channel", "KeyType": "HASH"},
                                                     {"AttributeName": "createdAt", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "byStatus", "KeySchema": [{"AttributeName": "activeStatus", "KeyType": "HASH"},
                                                    {"AttributeName": "createdAt", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
        ],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
