"""KickingRulesTable stream images -> ``Kicking Rule Created`` and ``Kicking Rule Lifted``.

An INSERT is a rule Agora accepted (the channels API stores it after Agora's answer); a REMOVE made by
a caller (``DELETE /kicking-rules/{id}``) is a lifted rule. A removal by DynamoDB's TTL (the record is
purged a while after the ban expired on its own) is not a lift: it publishes nothing. A new expiry
(``PUT``) is no fact of this contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.events.model import Event, KickingRuleCreated, KickingRuleLifted, Source, iso_s

TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def kicking_rule_events(
    event_name: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    source: Source,
    *,
    removed_by: str | None = None,
) -> list[Event]:
    """``removed_by``: the stream record's ``userIdentity.principalId`` (DynamoDB's own for TTL removals)."""
    if event_name == "INSERT" and new:
        rule = new
        model: type[KickingRuleCreated] | type[KickingRuleLifted] = KickingRuleCreated
    elif event_name == "REMOVE" and old and removed_by != TTL_PRINCIPAL:
        rule, model = old, KickingRuleLifted
    else:
        return []
    rule_id = int(rule["id"])
    fields: dict[str, Any] = {
        "channel": str(rule.get("cname") or ""),
        "rule_id": rule_id,
        "uid": None if rule.get("uid") is None else int(rule["uid"]),
        "privileges": [str(p) for p in rule.get("privileges") or []],
    }
    if model is KickingRuleCreated:
        fields.update(
            duration_seconds=int(rule.get("durationSeconds") or 0),
            expires_at=iso_s(rule.get("expiresAt")),
            created_by=None if rule.get("createdBy") is None else str(rule["createdBy"]),
        )
    return [Event(model(**source.common(model.DETAIL_TYPE, f"kicking-rule:{rule_id}"), **fields))]
