"""Storage of the projects capability: the daily-usage cache (UsageTable) and the certificate secret.

UsageTable: pk ``"{project_id}#{business}"``, sk the UTC day ``YYYY-MM-DD`` (or ``#meta`` for the
counters' names), ``usage`` a JSON object of counters, ``expiresAt`` the TTL. Only settled days are
written, so a cached day never changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from service.adapters.aws import LazyClient

META_KEY = "#meta"
BATCH = 25  # BatchWriteItem's limit


def cache_key(project_id: str, business: str) -> str:
    return f"{project_id}#{business}"


class UsageCache(Protocol):
    def get(self, project_id: str, business: str, start: date, end: date) -> tuple[dict[date, dict], dict | None]: ...

    def put(
        self, project_id: str, business: str, days: Mapping[date, dict], meta: dict | None, expires_at: int
    ) -> None: ...


class DynamoDBUsageCache:
    client = LazyClient("dynamodb")

    def __init__(self, table_name: str, *, client: Any = None):
        self.table_name = table_name
        self._client = client

    def get(self, project_id: str, business: str, start: date, end: date) -> tuple[dict[date, dict], dict | None]:
        """The cached days in [start, end] and the cached ``meta`` (one Query; ``#`` sorts before digits)."""
        days: dict[date, dict] = {}
        meta: dict | None = None
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":pk": {"S": cache_key(project_id, business)},
                ":a": {"S": META_KEY},
                ":b": {"S": end.isoformat()},
            },
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                sk = item["sk"]["S"]
                value = json.loads(item["usage"]["S"])
                if sk == META_KEY:
                    meta = value
                elif start.isoformat() <= sk:
                    days[date.fromisoformat(sk)] = value
            if "LastEvaluatedKey" not in page:
                return days, meta
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(
        self, project_id: str, business: str, days: Mapping[date, dict], meta: dict | None, expires_at: int
    ) -> None:
        pk = cache_key(project_id, business)
        items = [(day.isoformat(), counters) for day, counters in sorted(days.items())]
        if meta:
            items.append((META_KEY, meta))
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": pk},
                        "sk": {"S": sk},
                        "usage": {"S": json.dumps(value, separators=(",", ":"), sort_keys=True)},
                        "expiresAt": {"N": str(expires_at)},
                    }
                }
            }
            for sk, value in items
        ]
        for i in range(0, len(requests), BATCH):
            pending: dict[str, Any] = {self.table_name: requests[i : i + BATCH]}
            for _ in range(5):  # unprocessed items: a cache, so a few tries and then let it be
                answer = self.client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break


class CertificateStore(Protocol):
    name: str

    def put(self, certificate: str) -> str: ...


class SecretsManagerCertificate:
    """Writes ``{"app_certificate": ...}`` as a new version of the secret the token function reads.

    Secrets Manager keeps the replaced value as ``AWSPREVIOUS``. The value is passed to AWS and nowhere else.
    """

    client = LazyClient("secretsmanager")

    def __init__(self, name: str, *, client: Any = None):
        self.name = name
        self._client = client

    def __repr__(self) -> str:
        return f"SecretsManagerCertificate(name={self.name!r})"

    def put(self, certificate: str) -> str:
        answer = self.client.put_secret_value(
            SecretId=self.name, SecretString=json.dumps({"app_certificate": certificate})
        )
        return str(answer.get("VersionId") or "")
