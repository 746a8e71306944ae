"""Our record of kicking rules (KickingRulesTable, pk ``id`` = Agora's rule id, a number).

Agora's list endpoint "may miss records when the network is poor", so the id returned by the create
call is stored here with what the rule does and until when; the list we serve is ours (optionally
merged with Agora's). ``purgeAt`` is the TTL attribute: a rule is kept a while after it expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import from_item, is_condition_failed, to_item


@dataclass(frozen=True, slots=True)
class KickingRule:
    id: int
    cname: str | None
    uid: int | None
    ip: str | None
    privileges: tuple[str, ...]
    duration_seconds: int
    created_at: int  # epoch seconds
    expires_at: int  # epoch seconds: when Agora lifts the ban
    created_by: str | None = None
    updated_at: int | None = None

    def to_item(self, purge_at: int) -> dict[str, Any]:
        return to_item(
            {
                "id": self.id,
                "privileges": list(self.privileges),
                "durationSeconds": self.duration_seconds,
                "createdAt": self.created_at,
                "expiresAt": self.expires_at,
                "purgeAt": purge_at,
                "cname": self.cname or None,
                "uid": self.uid,
                "ip": self.ip or None,
                "createdBy": self.created_by or None,
                "updatedAt": self.updated_at,
            }
        )

    @classmethod
    def from_item(cls, raw: dict[str, Any]) -> KickingRule:
        item = from_item(raw) or {}
        return cls(
            id=int(item["id"]),
            cname=item.get("cname"),
            uid=item.get("uid"),
            ip=item.get("ip"),
            privileges=tuple(item.get("privileges") or ()),
            duration_seconds=int(item.get("durationSeconds") or 0),
            created_at=int(item.get("createdAt") or 0),
            expires_at=int(item.get("expiresAt") or 0),
            created_by=item.get("createdBy"),
            updated_at=item.get("updatedAt"),
        )


class KickingRulesRepository(Protocol):
    def put(self, rule: KickingRule, *, purge_at: int) -> None: ...

    def get(self, rule_id: int) -> KickingRule | None: ...

    def all(self) -> list[KickingRule]: ...

    def update_expiry(
        self, rule_id: int, *, duration_seconds: int, expires_at: int, updated_at: int, purge_at: int
    ) -> KickingRule | None: ...

    def delete(self, rule_id: int) -> bool: ...


class DynamoDBKickingRules:
    def __init__(self, table_name: str, *, client: Any = None):
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _key(self, rule_id: int) -> dict[str, Any]:
        return {"id": {"N": str(rule_id)}}

    def put(self, rule: KickingRule, *, purge_at: int) -> None:
        self.client.put_item(TableName=self.table_name, Item=rule.to_item(purge_at))

    def get(self, rule_id: int) -> KickingRule | None:
        item = self.client.get_item(TableName=self.table_name, Key=self._key(rule_id), ConsistentRead=True).get("Item")
        return KickingRule.from_item(item) if item else None

    def all(self) -> list[KickingRule]:
        """Every rule we keep (a moderation list: small, so a paginated scan is fine)."""
        rules: list[KickingRule] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        while True:
            page = self.client.scan(**kwargs)
            rules.extend(KickingRule.from_item(item) for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return sorted(rules, key=lambda r: r.id)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def update_expiry(
        self, rule_id: int, *, duration_seconds: int, expires_at: int, updated_at: int, purge_at: int
    ) -> KickingRule | None:
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(rule_id),
                UpdateExpression="SET durationSeconds = :d, expiresAt = :e, updatedAt = :u, purgeAt = :p",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeValues={
                    ":d": {"N": str(duration_seconds)},
                    ":e": {"N": str(expires_at)},
                    ":u": {"N": str(updated_at)},
                    ":p": {"N": str(purge_at)},
                },
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_condition_failed(exc):
                return None
            raise
        return KickingRule.from_item(answer["Attributes"])

    def delete(self, rule_id: int) -> bool:
        answer = self.client.delete_item(TableName=self.table_name, Key=self._key(rule_id), ReturnValues="ALL_OLD")
        return bool(answer.get("Attributes"))
