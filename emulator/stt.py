"""Real-Time STT v7 (``/api/speech-to-text/v1/projects/{appid}/...``): transcription agents in the emulated channels.

From Agora's v7 reference pages (join, leave, query, update, list, API callback service; late 2025):
``join`` takes a unique ``name`` (a second join while that name runs is 409: an idempotency key),
``languages`` (1..4), ``uidLanguagesConfig`` (at most 5 uids, 4 languages each), ``maxIdleTime`` (0 disables,
at most 259200), ``rtcConfig`` (``channelName``, ``pubBotUid`` required; ``subBotUid`` deprecated: the same
bot), ``translateConfig``, ``captionConfig`` (storage for caption files). The answer has ``agent_id``,
``create_ts`` and ``status``. ``update`` needs ``sequenceId`` greater than the last one applied and an
``updateMask``; it resets neither the idle timer nor the lifetime. Every task ends after 72 hours
(``max_lifetime`` emulated seconds). NCS product 20 carries the agent id as ``sid``. At most ``max_agents`` live
agents per project: beyond, a join is 422 (Agora's v7 pages publish no figure nor code for this; the emulator
answers as Conversational AI does for its quota, docs/transcriptions.md "Running cap").

Hostile like Agora: a 504 may come after the agent started (faults.py), a task can fail after it answered
(``fail_rate``, or a bot uid that collides with a user: the older user is dropped, as Agora does), events
are lost, duplicated and reordered by the webhook sender. While running, every publishing user that is
subscribed speaks a cue every ``cue_seconds``; on exit the transcript JSON and one WebVTT file per language
are uploaded under ``captionConfig.storage.fileNamePrefix`` (emulated Unix ms on the channel's clock). A bot
whose AccessToken2 (``rtcConfig.pubBotToken``) expires is dropped from the channel and its task FAILS
(reason ``token expired``): v7's ``update`` has no token field, so only a new agent brings a fresh token.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agorakit.captions import Cue, Transcript, to_webvtt, transcript_json

from emulator import naming
from emulator.model import CNAME_RE, ApiError
from emulator.uploader import Upload

if TYPE_CHECKING:
    from emulator.server import Emulator
    from emulator.world import World

PRODUCT_ID = 20
STATES = ("IDLE", "STARTING", "RUNNING", "STOPPING", "STOPPED", "RECOVERING", "FAILED")
ENDED = ("STOPPED", "FAILED")
MAX_LIFETIME = 259_200.0  # 72 hours, Agora's hard limit of a task
# NCS 20 event types the emulator sends (the page lists the payloads; these numbers are the emulator's, see
# docs/transcriptions.md): the state of the agent changed, and the caption files were uploaded
EVENT_STATE, EVENT_FILES = 1, 2
UPDATE_FIELDS = {
    "languages",
    "uidLanguagesConfig",
    "rtcConfig.subscribeAudioUids",
    "rtcConfig.unsubscribeAudioUids",
    "translateConfig.enable",
    "translateConfig.languages",
}
# fmt: off
_WORDS = (
    "we", "the", "audio", "check", "next", "slide", "looks", "good", "can", "you", "hear", "me", "agenda", "item",
    "one", "budget", "ship", "it", "friday",
)
# fmt: on


def stt_error(status: int, message: str, **extra: Any) -> ApiError:
    return ApiError(status, {"message": message, **extra})


@dataclass
class SttAgent:
    agent_id: str
    name: str
    cname: str
    languages: list[str]
    uid_languages: dict[int, list[str]]
    max_idle: int
    bot_uid: int
    subscribe: list[int] | None  # None: every host
    translate: dict[str, list[str]]  # source language -> target languages
    caption: dict[str, Any] | None
    created_at: float  # emulated seconds
    create_ts: int  # Unix seconds
    status: str = "STARTING"
    sequence_id: int = -1
    running_at: float | None = None
    ended_at: float | None = None
    stop_reason: str | None = None
    last_active: float = 0.0
    next_cue: dict[int, float] = field(default_factory=dict)
    cues: list[Cue] = field(default_factory=list)
    fail_at: float | None = None
    notices: int = 0
    uploaded_at: float | None = None  # the last partial upload (``upload_seconds``)
    uploaded_cues: int = 0
    #: when the bot's RTC token stops working (emulated epoch seconds); None: no AccessToken2 given
    token_expires: float | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "channel": self.cname,
            "status": self.status,
            "create_ts": self.create_ts,
            "languages": list(self.languages),
            "bot_uid": self.bot_uid,
            "sequence_id": self.sequence_id,
            "stop_reason": self.stop_reason,
            "cues": len(self.cues),
            "token_expires": self.token_expires,
        }


class SttService:
    """Transcription agents in ``world``'s channels; every method expects ``world.lock`` to be held."""

    def __init__(
        self,
        world: World,
        *,
        rng: random.Random | None = None,
        max_lifetime: float = MAX_LIFETIME,
        start_seconds: float = 1.0,
        cue_seconds: float = 4.0,
        fail_rate: float = 0.0,
        upload_seconds: float = 0.0,
        max_agents: int = 50,
    ):
        self.world = world
        self.rng = rng or random.Random()
        self.max_lifetime = max_lifetime
        self.start_seconds = start_seconds
        self.cue_seconds = cue_seconds
        self.fail_rate = fail_rate
        #: > 0: a running agent also rewrites its files every that many emulated seconds while it has new cues
        #: (0: only at its end). Agora's pages do not say when the files are written: an option, off by default.
        self.upload_seconds = upload_seconds
        self.max_agents = max_agents
        self.agents: dict[str, SttAgent] = {}
        self._notice = itertools.count(1)

    def reset(self) -> None:
        self.agents.clear()

    def configure(self, **changes: Any) -> dict[str, Any]:
        for name in ("max_lifetime", "start_seconds", "cue_seconds"):
            if changes.get(name) is not None:
                value = float(changes.pop(name))
                if value <= 0:
                    raise ValueError(f"{name} must be positive")
                setattr(self, name, value)
            changes.pop(name, None)
        if changes.get("fail_rate") is not None:
            rate = float(changes.pop("fail_rate"))
            if not 0.0 <= rate <= 1.0:
                raise ValueError("fail_rate must be in [0, 1]")
            self.fail_rate = rate
        changes.pop("fail_rate", None)
        if changes.get("upload_seconds") is not None:
            every = float(changes.pop("upload_seconds"))
            if every < 0:
                raise ValueError("upload_seconds must be 0 (at the end only) or positive")
            self.upload_seconds = every
        changes.pop("upload_seconds", None)
        if changes.get("max_agents") is not None:
            most = int(changes.pop("max_agents"))
            if most < 0:
                raise ValueError("max_agents must be 0 or more")
            self.max_agents = most
        changes.pop("max_agents", None)
        if changes:
            raise ValueError(f"unknown stt settings {sorted(changes)}")
        return {
            "max_lifetime": self.max_lifetime,
            "start_seconds": self.start_seconds,
            "cue_seconds": self.cue_seconds,
            "fail_rate": self.fail_rate,
            "upload_seconds": self.upload_seconds,
            "max_agents": self.max_agents,
        }

    # ------------------------------------------------------------------ REST

    def join(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise stt_error(400, "name is required (1 to 64 characters)")
        languages = _languages(body.get("languages"), "languages", required=True)
        uid_languages = _uid_languages(body.get("uidLanguagesConfig"))
        max_idle = body.get("maxIdleTime", 30)
        if not isinstance(max_idle, int) or isinstance(max_idle, bool) or not 0 <= max_idle <= 259_200:
            raise stt_error(400, "maxIdleTime must be an integer in [0, 259200]")
        rtc = body.get("rtcConfig")
        if not isinstance(rtc, dict):
            raise stt_error(400, "rtcConfig is required")
        cname = rtc.get("channelName")
        if not isinstance(cname, str) or not cname or len(cname) > 64 or not CNAME_RE.match(cname):
            raise stt_error(400, "rtcConfig.channelName is invalid")
        bot_uid = _uid(rtc.get("pubBotUid"), "rtcConfig.pubBotUid")
        if rtc.get("subBotUid") is not None:  # deprecated in v7: Agora uses pubBotUid for both
            _uid(rtc.get("subBotUid"), "rtcConfig.subBotUid")
        subscribe = _uids(rtc.get("subscribeAudioUids"), "rtcConfig.subscribeAudioUids")
        token = rtc.get("pubBotToken")
        if token is not None and not isinstance(token, str):
            raise stt_error(400, "rtcConfig.pubBotToken must be a string")
        translate = _translate(body.get("translateConfig"))
        caption = body.get("captionConfig")
        if caption is not None and not (isinstance(caption, dict) and isinstance(caption.get("storage"), dict)):
            raise stt_error(400, "captionConfig.storage is required with captionConfig")
        for agent in self.agents.values():
            if agent.name == name and agent.status not in ENDED:
                raise stt_error(409, "task conflict: an agent with this name is running")
        if sum(1 for a in self.agents.values() if a.status not in ENDED) >= self.max_agents:
            raise stt_error(422, f"resource quota exceeded: at most {self.max_agents} agents at a time")
        now = self.world.clock.now()
        agent = SttAgent(
            agent_id=uuid.uuid4().hex.upper(),
            name=name,
            cname=cname,
            languages=languages,
            uid_languages=uid_languages,
            max_idle=max_idle,
            bot_uid=bot_uid,
            subscribe=subscribe,
            translate=translate,
            caption=caption,
            created_at=now,
            create_ts=int(self.world.clock.epoch()),
            last_active=now,
            token_expires=_token_expiry(token) if token else None,
        )
        if self.fail_rate and self.rng.random() < self.fail_rate:
            agent.fail_at = now + self.start_seconds * (1 + self.rng.random())
        self.agents[agent.agent_id] = agent
        self._event(agent, EVENT_STATE)
        return 200, {"agent_id": agent.agent_id, "create_ts": agent.create_ts, "status": agent.status}

    def get(self, agent_id: str) -> tuple[int, dict[str, Any]]:
        agent = self._agent(agent_id)
        return 200, {"agent_id": agent.agent_id, "create_ts": agent.create_ts, "status": agent.status}

    def leave(self, agent_id: str) -> tuple[int, dict[str, Any]]:
        agent = self._agent(agent_id)
        if agent.status in ENDED:
            raise stt_error(404, "task not found or already stopped", agent_id=agent_id)
        self._end(agent, "STOPPED", "leave")
        return 200, {}

    def update(self, agent_id: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        agent = self._agent(agent_id)
        raw_seq = next(iter(query.get("sequenceId") or []), None)
        if raw_seq is None or not raw_seq.isdigit():
            raise stt_error(400, "sequenceId is required (an integer >= 0)")
        mask = [m for m in next(iter(query.get("updateMask") or []), "").split(",") if m]
        if not mask or not set(mask) <= UPDATE_FIELDS:
            raise stt_error(400, f"updateMask must name fields of {sorted(UPDATE_FIELDS)}")
        if agent.status in ENDED:
            raise stt_error(404, "task not found or already stopped", agent_id=agent_id)
        sequence = int(raw_seq)
        if sequence <= agent.sequence_id:
            raise stt_error(400, f"sequenceId {sequence} is not greater than the last one ({agent.sequence_id})")
        changes: dict[str, Any] = {}
        if "languages" in mask:
            changes["languages"] = _languages(body.get("languages"), "languages", required=True)
        if "uidLanguagesConfig" in mask:
            changes["uid_languages"] = _uid_languages(body.get("uidLanguagesConfig"))
        rtc = _object(body.get("rtcConfig"))
        subscribe = agent.subscribe
        if "rtcConfig.subscribeAudioUids" in mask:
            subscribe = _uids(rtc.get("subscribeAudioUids"), "rtcConfig.subscribeAudioUids")
        if "rtcConfig.unsubscribeAudioUids" in mask:
            drop = set(_uids(rtc.get("unsubscribeAudioUids"), "rtcConfig.unsubscribeAudioUids") or [])
            subscribe = [u for u in (subscribe or []) if u not in drop]
        if "translateConfig.enable" in mask or "translateConfig.languages" in mask:
            config = _object(body.get("translateConfig"))
            changes["translate"] = _translate(config) if config.get("enable", True) else {}
        for key, value in changes.items():
            setattr(agent, key, value)
        agent.subscribe = subscribe
        agent.sequence_id = sequence
        return 200, {"agent_id": agent.agent_id, "create_ts": agent.create_ts, "status": agent.status}

    def list_agents(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        channel = next(iter(query.get("channel") or []), None)
        state = next(iter(query.get("state") or []), "2")
        if not state.isdigit() or not 0 <= int(state) < len(STATES):
            raise stt_error(400, "state must be 0..6")
        limit_text = next(iter(query.get("limit") or []), "20")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise stt_error(400, "limit must be 1..100")
        cursor = next(iter(query.get("cursor") or []), None)
        wanted = STATES[int(state)]
        matches = sorted(
            (a for a in self.agents.values() if a.status == wanted and (channel is None or a.cname == channel)),
            key=lambda a: (a.created_at, a.agent_id),
        )
        if cursor is not None:
            ids = [a.agent_id for a in matches]
            matches = matches[ids.index(cursor) + 1 :] if cursor in ids else []
        page = matches[: int(limit_text)]
        more = len(matches) > len(page)
        return 200, {
            "data": {
                "count": len(page),
                "list": [
                    {"agent_id": a.agent_id, "name": a.name, "status": a.status, "create_ts": a.create_ts,
                     "channel": a.cname}
                    for a in page
                ],
            },
            "meta": {"cursor": page[-1].agent_id if more and page else "", "total": len(matches)},
            "status": "ok",
        }  # fmt: skip

    # ------------------------------------------------------------------ simulation

    def tick(self) -> None:
        now = self.world.clock.now()
        for agent in list(self.agents.values()):
            if agent.status in ENDED:
                continue
            if agent.fail_at is not None and now >= agent.fail_at:
                self._end(agent, "FAILED", "start failure" if agent.status == "STARTING" else "worker crashed")
                continue
            if agent.status == "STARTING" and now - agent.created_at >= self.start_seconds:
                self._run(agent, now)
            if agent.status != "RUNNING":
                continue
            if agent.token_expires is not None and self.world.clock.epoch() >= agent.token_expires:
                # the bot's token expired: the bot is dropped from the channel and the task fails (v7's update
                # cannot renew a token; a new agent must join with a fresh one before this one expires)
                self._end(agent, "FAILED", "token expired")
                continue
            if now - agent.created_at >= self.max_lifetime:
                self._end(agent, "STOPPED", "max lifetime (72 hours)")
                continue
            speakers = self._speakers(agent)
            if speakers:
                agent.last_active = now
            elif agent.max_idle and now - agent.last_active >= agent.max_idle:
                self._end(agent, "STOPPED", "idle")
                continue
            self._speak(agent, speakers, now)
            self._upload_partial(agent, now)

    def _run(self, agent: SttAgent, now: float) -> None:
        channel = self.world.channels.get(agent.cname)
        user = channel.users.get(agent.bot_uid) if channel else None
        try:
            self.world.join(agent.cname, agent.bot_uid, role="host", platform=6, bot=True)
        except ApiError as exc:  # a kicking rule bans the bot: the task fails after its 200
            agent.stop_reason = f"the bot could not join: {exc.body.get('message')}"
            agent.status = "FAILED"
            agent.ended_at = now
            self._event(agent, EVENT_STATE)
            return
        if user is not None and not user.bot:  # the user with the bot's uid was dropped (reason 5)
            agent.stop_reason = f"uid {agent.bot_uid} was in use by a user"
        agent.status, agent.running_at, agent.last_active = "RUNNING", now, now
        self._event(agent, EVENT_STATE)

    def _speakers(self, agent: SttAgent) -> list[int]:
        channel = self.world.channels.get(agent.cname)
        if channel is None:
            return []
        publishing = [u.uid for u in channel.users.values() if u.publishes()]
        if agent.subscribe is not None:
            publishing = [uid for uid in publishing if uid in agent.subscribe]
        return sorted(publishing)

    def _speak(self, agent: SttAgent, speakers: list[int], now: float) -> None:
        for uid in speakers:
            due = agent.next_cue.setdefault(uid, now + self.cue_seconds * self.rng.random())
            if now < due:
                continue
            agent.next_cue[uid] = now + self.cue_seconds
            languages = agent.uid_languages.get(uid) or agent.languages
            language = languages[0]
            text = " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(3, 9)))
            start = self.world.clock.epoch_ms(max(agent.running_at or now, now - self.cue_seconds * 0.8))
            translations = {target: f"[{target}] {text}" for target in agent.translate.get(language, [])}
            agent.cues.append(
                Cue(uid=uid, language=language, start_ms=start, end_ms=self.world.clock.epoch_ms(now), text=text,
                    translations=translations)
            )  # fmt: skip

    def _end(self, agent: SttAgent, status: str, reason: str) -> None:
        agent.status = "STOPPING"
        self._event(agent, EVENT_STATE)
        agent.ended_at = self.world.clock.now()
        agent.stop_reason = agent.stop_reason or reason
        self.world.leave(agent.cname, agent.bot_uid, reason=1)
        self._upload(agent)
        agent.status = status
        self._event(agent, EVENT_STATE)

    def _upload_partial(self, agent: SttAgent, now: float) -> None:
        """While it runs (``upload_seconds``): the files so far under their final keys, with no NCS event."""
        if not self.upload_seconds or len(agent.cues) == agent.uploaded_cues:
            return
        if agent.uploaded_at is not None and now - agent.uploaded_at < self.upload_seconds:
            return
        agent.uploaded_at, agent.uploaded_cues = now, len(agent.cues)
        self._upload(agent, end=now, notify=False)

    def _upload(self, agent: SttAgent, *, end: float | None = None, notify: bool = True) -> None:
        if agent.caption is None:
            return
        storage = agent.caption.get("storage") or {}
        prefix = [p for p in storage.get("fileNamePrefix") or [] if isinstance(p, str)]
        start_ms = self.world.clock.epoch_ms(agent.running_at or agent.created_at)
        end_ms = self.world.clock.epoch_ms(agent.ended_at if end is None else end)
        transcript = Transcript(
            agent_id=agent.agent_id,
            channel=agent.cname,
            languages=tuple(agent.languages),
            start_ms=start_ms,
            end_ms=end_ms,
            cues=tuple(agent.cues),
        )
        files = [(f"{agent.agent_id}_{agent.cname}_transcript.json", transcript_json(transcript), "application/json")]
        targets = {t for targets in agent.translate.values() for t in targets}
        for language in sorted({*agent.languages, *targets}):
            vtt = to_webvtt(agent.cues, start_ms, language=language).encode()
            files.append((f"{agent.agent_id}_{agent.cname}_{language}.vtt", vtt, "text/vtt"))
        keys = [naming.object_key(prefix, name) for name, _, _ in files]
        if self.world.uploader is not None and self.world.s3_bucket:
            for (_, body, content_type), key in zip(files, keys, strict=True):
                self.world.uploader.put(
                    Upload(
                        task=agent.agent_id,
                        bucket=self.world.s3_bucket,
                        key=key,
                        body=body,
                        content_type=content_type,
                        access_key=str(storage.get("accessKey", "")),
                        secret_key=str(storage.get("secretKey", "")),
                        region="us-east-1",
                    )
                )
        if notify:
            self._event(agent, EVENT_FILES, fileList=keys, startMs=start_ms, endMs=end_ms)

    def _event(self, agent: SttAgent, event_type: int, **extra: Any) -> None:
        agent.notices += 1
        payload: dict[str, Any] = {
            "agent_id": agent.agent_id,
            "name": agent.name,
            "channel": agent.cname,
            "status": agent.status,
            "create_ts": agent.create_ts,
            "sequence": agent.notices,
            "ts": self.world.clock.epoch_ms(),
        }
        if agent.stop_reason and agent.status in ("STOPPING", *ENDED):
            payload["reason"] = agent.stop_reason
        payload.update(extra)
        self.world._publish(
            {
                "noticeId": f"stt-{agent.agent_id}-{next(self._notice)}",
                "productId": PRODUCT_ID,
                "eventType": event_type,
                "notifyMs": self.world.clock.epoch_ms(),
                "sid": agent.agent_id,
                "payload": payload,
            }
        )

    def _agent(self, agent_id: str) -> SttAgent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise stt_error(404, "task not found", agent_id=agent_id)
        return agent

    def history(self) -> list[dict[str, Any]]:
        """Every agent ever started, with its emulated start and end (tests assert on overlaps)."""
        return [
            {**a.describe(), "started_at": a.created_at, "ended_at": a.ended_at}
            for a in sorted(self.agents.values(), key=lambda a: a.created_at)
        ]

    def overlaps(self) -> list[tuple[str, str]]:
        """Pairs of agents of one name that ran at once (an ambiguous start handled badly)."""
        found = []
        agents = sorted(self.agents.values(), key=lambda a: a.created_at)
        for i, a in enumerate(agents):
            for b in agents[i + 1 :]:
                if a.name == b.name and (a.ended_at is None or b.created_at < a.ended_at):
                    found.append((a.agent_id, b.agent_id))
        return found


def route(emu: Emulator, method: str, seg: list[str], query: dict[str, list[str]]) -> tuple[str | None, Any]:
    """(operation, callable(body) -> (status, body)) for ``/api/speech-to-text/v1/projects/{appid}/...``
    (``seg`` starts after ``projects``); (None, None) if unknown."""
    if not seg or seg[0] != emu.app_id:
        raise stt_error(400, "invalid appid")
    stt, tail = emu.stt, seg[1:]

    def locked(fn: Any, *args: Any) -> Any:
        with emu.world.lock:
            return fn(*args)

    if tail == ["join"] and method == "POST":
        return "stt.join", lambda b: locked(stt.join, b)
    if tail == ["agents"] and method == "GET":
        return "stt.list", lambda b: locked(stt.list_agents, query)
    if len(tail) == 2 and tail[0] == "agents" and method == "GET":
        return "stt.get", lambda b: locked(stt.get, tail[1])
    if len(tail) == 3 and tail[0] == "agents" and tail[2] == "leave" and method == "POST":
        return "stt.leave", lambda b: locked(stt.leave, tail[1])
    if len(tail) == 3 and tail[0] == "agents" and tail[2] == "update" and method == "POST":
        return "stt.update", lambda b: locked(stt.update, tail[1], query, b)
    return None, None


def _token_expiry(token: str) -> float | None:
    """When an AccessToken2 stops working (emulated epoch seconds: its issue time plus its lifetime); None for
    anything that is not a 007 token (an App ID without certificate takes no token)."""
    if not token.startswith("007"):
        return None
    from agorakit.tokens.parser import TokenParseError, parse_access_token2

    try:
        return float(parse_access_token2(token).expires_at)
    except TokenParseError:
        raise stt_error(400, "rtcConfig.pubBotToken is not a valid token") from None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _languages(value: Any, name: str, *, required: bool) -> list[str]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or not 1 <= len(value) <= 4:
        raise stt_error(400, f"{name} must list 1 to 4 languages")
    if not all(isinstance(v, str) and 2 <= len(v) <= 16 for v in value):
        raise stt_error(400, f"{name} must be language codes such as en-US")
    return list(value)


def _uid(value: Any, name: str) -> int:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= 2**32 - 1:
        raise stt_error(400, f"{name} must be a uid in 1..2^32-1 (as a string)")
    return int(text)


def _uids(value: Any, name: str) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise stt_error(400, f"{name} must be a list of uids")
    if value == ["*"]:
        return None
    return [_uid(v, name) for v in value]


def _uid_languages(value: Any) -> dict[int, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, list) or len(value) > 5:
        raise stt_error(400, "uidLanguagesConfig supports at most 5 items")
    out: dict[int, list[str]] = {}
    for item in value:
        if not isinstance(item, dict):
            raise stt_error(400, "uidLanguagesConfig items are objects")
        out[_uid(item.get("uid"), "uidLanguagesConfig.uid")] = _languages(
            item.get("languages"), "uidLanguagesConfig.languages", required=True
        )
    return out


def _translate(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise stt_error(400, "translateConfig must be an object")
    if not value.get("enable", True):
        return {}
    pairs = value.get("languages")
    if not isinstance(pairs, list) or not 1 <= len(pairs) <= 4:
        raise stt_error(400, "translateConfig.languages must list 1 to 4 source/target pairs")
    out: dict[str, list[str]] = {}
    for pair in pairs:
        if not isinstance(pair, dict) or not isinstance(pair.get("source"), str):
            raise stt_error(400, "translateConfig.languages items need a source")
        out[pair["source"]] = _languages(pair.get("target"), "translateConfig.languages.target", required=True)
    return out


__all__ = [
    "ENDED",
    "EVENT_FILES",
    "EVENT_STATE",
    "MAX_LIFETIME",
    "PRODUCT_ID",
    "STATES",
    "SttAgent",
    "SttService",
    "route",
]
