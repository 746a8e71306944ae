"""A transcription as the use cases see it, and its DynamoDB item form (camelCase attributes).

One record per transcription; its Agora agents change over time (a restart before 72 hours joins a new
agent under the next ``generation``'s name), so ``agent_id`` is the current one and ``agents`` all of them,
whose transcript and caption files are in ``files``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Transcription:
    id: str
    channel: str
    status: str
    languages: tuple[str, ...]
    bot_uid: int
    created_at_ms: int
    status_at_ms: int
    uid_languages: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    translate: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    subscribe_uids: tuple[int, ...] | None = None
    max_idle_seconds: int = 30
    generation: int = 0
    agent_id: str | None = None
    agents: tuple[str, ...] = ()
    sequence_id: int = -1  # the last sequenceId handed out for an update (Agora wants it to increase)
    applied_sequence: int = -1  # the sequenceId of the configuration stored here
    started_at_ms: int | None = None
    #: when the current agent's bot RTC token expires (None: no token, an App ID without certificate)
    token_expires_ms: int | None = None
    ended_at_ms: int | None = None
    stop_reason: str | None = None
    recording_id: str | None = None
    files: tuple[str, ...] = ()
    last_error: str | None = None


def to_item(t: Transcription) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": f"TX#{t.id}",
        "kind": "transcription",
        "id": t.id,
        "channel": t.channel,
        "status": t.status,
        "languages": list(t.languages),
        "botUid": t.bot_uid,
        "createdAt": t.created_at_ms,
        "statusAt": t.status_at_ms,
        "uidLanguages": {str(uid): list(langs) for uid, langs in t.uid_languages.items()},
        "translate": {source: list(targets) for source, targets in t.translate.items()},
        "maxIdle": t.max_idle_seconds,
        "generation": t.generation,
        "agents": list(t.agents),
        "sequenceId": t.sequence_id,
        "appliedSequence": t.applied_sequence,
    }
    optional = {
        "subscribeUids": list(t.subscribe_uids) if t.subscribe_uids is not None else None,
        "agentId": t.agent_id,
        "startedAt": t.started_at_ms,
        "tokenExpiresAt": t.token_expires_ms,
        "endedAt": t.ended_at_ms,
        "stopReason": t.stop_reason,
        "recordingId": t.recording_id,
        "lastError": t.last_error,
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    if t.files:
        item["files"] = set(t.files)
    return item


def _int(value: Any) -> int:
    return int(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def from_item(item: Mapping[str, Any]) -> Transcription:
    subscribe = item.get("subscribeUids")
    return Transcription(
        id=str(item["id"]),
        channel=str(item["channel"]),
        status=str(item["status"]),
        languages=tuple(str(v) for v in item.get("languages") or ()),
        bot_uid=_int(item["botUid"]),
        created_at_ms=_int(item["createdAt"]),
        status_at_ms=_int(item["statusAt"]),
        uid_languages={int(k): tuple(str(x) for x in v) for k, v in (item.get("uidLanguages") or {}).items()},
        translate={str(k): tuple(str(x) for x in v) for k, v in (item.get("translate") or {}).items()},
        subscribe_uids=tuple(int(u) for u in subscribe) if subscribe is not None else None,
        max_idle_seconds=_int(item.get("maxIdle", 30)),
        generation=_int(item.get("generation", 0)),
        agent_id=item.get("agentId"),
        agents=tuple(str(a) for a in item.get("agents") or ()),
        sequence_id=_int(item.get("sequenceId", -1)),
        applied_sequence=_int(item.get("appliedSequence", -1)),
        started_at_ms=_opt_int(item.get("startedAt")),
        token_expires_ms=_opt_int(item.get("tokenExpiresAt")),
        ended_at_ms=_opt_int(item.get("endedAt")),
        stop_reason=item.get("stopReason"),
        recording_id=item.get("recordingId"),
        files=tuple(sorted(str(f) for f in item.get("files") or ())),
        last_error=item.get("lastError"),
    )
