"""Real-Time STT v7 (``/api/speech-to-text/v1/projects/{appid}``): typed requests and answers, on AgoraClient's
transport (its retries, failover, rate limiter and error classification).

``join`` is keyed by the agent's ``name``: repeating it while that name runs is a 409 (``SttNameConflict``), so a
retried or ambiguous join never starts two agents; the caller adopts the running one with ``find_running``.
``update`` needs a ``sequence_id`` greater than the last one Agora applied (the caller stores and increases it).
The older builder-token API (v5/v6) reaches end of life on 2026-06-11 and is not used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agorakit.agora.errors import AgoraConflictError, AgoraError, AgoraNotFoundError, AgoraParameterError
from agorakit.agora.models import MAX_UID, StorageConfig

if TYPE_CHECKING:
    from agorakit.agora.client import AgoraClient

STATES = ("IDLE", "STARTING", "RUNNING", "STOPPING", "STOPPED", "RECOVERING", "FAILED")
MAX_LANGUAGES = 4
MAX_UID_LANGUAGES = 5
MAX_IDLE_SECONDS = 259_200
LIFETIME_SECONDS = 259_200  # every task ends after 72 hours, whatever maxIdleTime says
MAX_NAME = 64


class SttNameConflict(AgoraConflictError):
    """409: an agent with this name is running (the join took effect earlier: adopt it)."""


def _check_languages(languages: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(languages, str) or not 1 <= len(languages) <= MAX_LANGUAGES:
        raise AgoraParameterError(f"{what}: 1 to {MAX_LANGUAGES} languages")
    for language in languages:
        if not isinstance(language, str) or not 2 <= len(language) <= 16:
            raise AgoraParameterError(f"{what}: {language!r} is not a language code such as en-US")
    return tuple(languages)


def _check_uid(uid: int, what: str) -> int:
    if isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= MAX_UID:
        raise AgoraParameterError(f"{what} must be an integer uid in 1..{MAX_UID}")
    return uid


@dataclass(frozen=True)
class SttJoin:
    """A join request. ``bot_uid`` is the one bot of v7 (``pubBotUid``; ``subBotUid`` is deprecated and equal)."""

    name: str
    channel: str
    languages: Sequence[str]
    bot_uid: int
    bot_token: str | None = field(default=None, repr=False)
    max_idle_seconds: int = 30
    uid_languages: Mapping[int, Sequence[str]] = field(default_factory=dict)
    subscribe_uids: Sequence[int] | None = None  # None: every host
    translate: Mapping[str, Sequence[str]] = field(default_factory=dict)  # source -> targets
    caption_storage: StorageConfig | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= MAX_NAME:
            raise AgoraParameterError(f"name must be 1 to {MAX_NAME} characters")
        if not isinstance(self.channel, str) or not self.channel:
            raise AgoraParameterError("channel is required")
        _check_languages(self.languages, "languages")
        _check_uid(self.bot_uid, "bot_uid")
        if len(self.uid_languages) > MAX_UID_LANGUAGES:
            raise AgoraParameterError(f"uid_languages: at most {MAX_UID_LANGUAGES} uids")
        for uid, languages in self.uid_languages.items():
            _check_uid(uid, "uid_languages uid")
            _check_languages(languages, f"uid_languages[{uid}]")
        isint = isinstance(self.max_idle_seconds, int) and not isinstance(self.max_idle_seconds, bool)
        if not isint or not 0 <= self.max_idle_seconds <= MAX_IDLE_SECONDS:
            raise AgoraParameterError(f"max_idle_seconds must be 0 (never) to {MAX_IDLE_SECONDS}")
        for uid in self.subscribe_uids or ():
            _check_uid(uid, "subscribe_uids")
        if len(self.translate) > MAX_LANGUAGES:
            raise AgoraParameterError(f"translate: at most {MAX_LANGUAGES} source languages")
        for source, targets in self.translate.items():
            _check_languages([source], "translate source")
            _check_languages(targets, f"translate[{source}]")

    def to_agora(self) -> dict[str, Any]:
        rtc: dict[str, Any] = {"channelName": self.channel, "pubBotUid": str(self.bot_uid)}
        if self.bot_token:
            rtc["pubBotToken"] = self.bot_token
        if self.subscribe_uids is not None:
            rtc["subscribeAudioUids"] = [str(uid) for uid in self.subscribe_uids]
        body: dict[str, Any] = {
            "name": self.name,
            "languages": list(self.languages),
            "maxIdleTime": self.max_idle_seconds,
            "rtcConfig": rtc,
        }
        if self.uid_languages:
            body["uidLanguagesConfig"] = [
                {"uid": str(uid), "languages": list(langs)} for uid, langs in sorted(self.uid_languages.items())
            ]
        if self.translate:
            body["translateConfig"] = translate_config(self.translate)
        if self.caption_storage is not None:
            body["captionConfig"] = {"storage": self.caption_storage.to_agora()}
        return body


def translate_config(translate: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    return {
        "enable": bool(translate),
        "languages": [{"source": source, "target": list(targets)} for source, targets in sorted(translate.items())],
    }


@dataclass(frozen=True)
class SttAgent:
    """What Agora says of an agent (``status`` is one of ``STATES``; unknown values are kept as they are)."""

    agent_id: str
    status: str
    create_ts: int | None = None
    name: str | None = None
    channel: str | None = None

    @classmethod
    def from_agora(cls, body: Mapping[str, Any]) -> SttAgent:
        agent_id = body.get("agent_id")
        if not isinstance(agent_id, str) or not agent_id:
            raise AgoraError("Agora's STT answer has no agent_id", reason=str(body)[:200])
        ts = body.get("create_ts")
        return cls(
            agent_id=agent_id,
            status=str(body.get("status") or "IDLE").upper(),
            create_ts=ts if isinstance(ts, int) and not isinstance(ts, bool) else None,
            name=body.get("name") if isinstance(body.get("name"), str) else None,
            channel=body.get("channel") if isinstance(body.get("channel"), str) else None,
        )

    @property
    def ended(self) -> bool:
        return self.status in ("STOPPED", "FAILED")


class SttClient:
    """The STT v7 calls for ``client``'s App ID (share one AgoraClient: one rate limiter, one connection pool)."""

    def __init__(self, client: AgoraClient):
        self._client = client
        self._base = f"/api/speech-to-text/v1/projects/{quote(client.app_id, safe='')}"

    def _agent_path(self, agent_id: str, tail: str = "") -> str:
        if not isinstance(agent_id, str) or not agent_id:
            raise AgoraParameterError("agent_id is required")
        return f"{self._base}/agents/{quote(agent_id, safe='')}{tail}"

    def join(self, request: SttJoin) -> SttAgent:
        try:
            answer = self._client._call("stt.join", "POST", f"{self._base}/join", body=request.to_agora())
        except AgoraParameterError as exc:
            if exc.http_status == 409:
                raise SttNameConflict(
                    f"Agora stt.join: the name {request.name!r} is running",
                    http_status=409,
                    request_id=exc.request_id,
                    reason=exc.reason,
                ) from None
            raise
        return SttAgent.from_agora(answer.body)

    def get(self, agent_id: str) -> SttAgent:
        return SttAgent.from_agora(self._client._call("stt.get", "GET", self._agent_path(agent_id)).body)

    def leave(self, agent_id: str) -> bool:
        """True when this call stopped it; False when Agora no longer knows it as running (404)."""
        try:
            self._client._call("stt.leave", "POST", self._agent_path(agent_id, "/leave"))
        except AgoraNotFoundError:
            return False
        return True

    def update(
        self,
        agent_id: str,
        sequence_id: int,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> SttAgent:
        """Change languages, the subscribed uids or the translation. ``sequence_id`` must be greater than every
        one sent before for this agent (Agora answers 400 otherwise)."""
        if isinstance(sequence_id, bool) or not isinstance(sequence_id, int) or sequence_id < 0:
            raise AgoraParameterError("sequence_id must be a non-negative integer")
        mask: list[str] = []
        body: dict[str, Any] = {}
        if languages is not None:
            body["languages"] = list(_check_languages(languages, "languages"))
            mask.append("languages")
        if subscribe_uids is not None:
            body["rtcConfig"] = {"subscribeAudioUids": [str(_check_uid(u, "subscribe_uids")) for u in subscribe_uids]}
            mask.append("rtcConfig.subscribeAudioUids")
        if translate is not None:
            for source, targets in translate.items():
                _check_languages([source], "translate source")
                _check_languages(targets, f"translate[{source}]")
            body["translateConfig"] = translate_config(translate)
            mask += ["translateConfig.enable", "translateConfig.languages"]
        if not mask:
            raise AgoraParameterError("update changes nothing")
        params = {"sequenceId": str(sequence_id), "updateMask": ",".join(mask)}
        answer = self._client._call("stt.update", "POST", self._agent_path(agent_id, "/update"), body=body,
                                    params=params)  # fmt: skip
        return SttAgent.from_agora(answer.body) if answer.body.get("agent_id") else self.get(agent_id)

    def list_agents(self, *, channel: str | None = None, state: str = "RUNNING", limit: int = 100) -> list[SttAgent]:
        """Every agent in ``state`` (of ``channel``), following the cursor across pages."""
        if state not in STATES:
            raise AgoraParameterError(f"state must be one of {STATES}")
        params: dict[str, Any] = {"state": str(STATES.index(state)), "limit": str(limit)}
        if channel is not None:
            params["channel"] = channel
        found: list[SttAgent] = []
        for _ in range(1000):  # a cursor that never ends is Agora's bug, not a reason to loop forever
            body = self._client._call("stt.list", "GET", f"{self._base}/agents", params=params).body
            data = body.get("data")
            items = data.get("list") if isinstance(data, dict) else None
            items = items if isinstance(items, list) else []
            found += [SttAgent.from_agora(item) for item in items if isinstance(item, dict)]
            meta = body.get("meta")
            cursor = meta.get("cursor") if isinstance(meta, dict) else None
            if not cursor or not items:
                break
            params["cursor"] = str(cursor)
        return found

    def find_running(self, name: str, channel: str) -> SttAgent | None:
        """The live agent called ``name`` in ``channel`` (after a 409 or an ambiguous join), or None."""
        for state in ("RUNNING", "STARTING", "IDLE", "RECOVERING"):
            for agent in self.list_agents(channel=channel, state=state):
                if agent.name == name:
                    return agent
        return None


__all__ = [
    "LIFETIME_SECONDS",
    "MAX_IDLE_SECONDS",
    "MAX_LANGUAGES",
    "MAX_UID_LANGUAGES",
    "STATES",
    "SttAgent",
    "SttClient",
    "SttJoin",
    "SttNameConflict",
    "translate_config",
]
