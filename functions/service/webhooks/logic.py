"""Webhook logic: accepting a request (intake) and dispatching a stored notice (processor).

Intake order of checks, and why:
1. size (413) - before any work, so an oversized body costs nothing;
2. signature (401) - HMAC over the exact bytes against *every* configured secret, before parsing: an
   unauthenticated body never reaches the JSON parser, and a caller without a secret learns nothing
   about what we would accept (no 400-vs-401 oracle);
3. JSON and envelope (400) - noticeId, productId, eventType;
4. the verifying secret must be one configured for the envelope's productId, or the default (401);
5. the inbox item must fit DynamoDB's 400 KB item limit (413 with the reason: NCS must not retry a
   notice we can never store);
6. one conditional PutItem on productId + noticeId (a duplicate is a 200 and a no-op).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agorakit.ncs.events import (
    PRODUCT_CLOUD_RECORDING,
    PRODUCT_RTC,
    Envelope,
    NcsEventError,
    loads_envelope,
    parse_envelope,
    parse_rtc_event,
)
from agorakit.ncs.signature import Keyring, NcsSecretError, Verification

from service.adapters.secrets import SecretStore
from service.errors import BadRequest, PayloadTooLarge, ServiceError, Unauthorized
from service.presence.logic import apply_rtc_event
from service.presence.repository import PresenceStore
from service.webhooks.repository import MAX_ITEM_BYTES, InboxRecord, InboxRepository, item_size
from service.webhooks.settings import IntakeSettings, ProcessorSettings

UPLOAD_PROGRESS_EVENT = 33


class BadSignature(Unauthorized):
    """No configured secret produced the presented signature."""


class IntakeUnavailable(ServiceError):
    """A dependency (secrets, DynamoDB) failed: answer 503 so NCS delivers the event again."""

    status, code = 503, "unavailable"


class NoticeTooLarge(PayloadTooLarge):
    """A signed notice whose inbox item exceeds DynamoDB's item limit: 413, so NCS stops delivering it."""

    code = "notice_too_large"


def _error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Message") or exc)
    return str(exc)


def _is_item_too_large(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    code = str(((response or {}).get("Error") or {}).get("Code") or "") if isinstance(response, dict) else ""
    return code == "ValidationException" and "size" in _error_message(exc).lower()


# ---------------------------------------------------------------------------------------------- intake


@dataclass(frozen=True, slots=True)
class Accepted:
    envelope: Envelope
    verification: Verification
    stored: bool  # False: a duplicate delivery (already in the inbox)
    size: int

    @property
    def outcome(self) -> str:
        return "stored" if self.stored else "duplicate"


class KeyringCache:
    """The NCS keyring, rebuilt only when the secret store hands back a different (rotated) document.

    ``refresh`` re-reads the secret after a signature failure (at most once per ``min_refresh_seconds``),
    so a secret rotated in Agora's console and in Secrets Manager is picked up at once instead of after
    the store's cache age, without letting bad requests drive Secrets Manager calls.
    """

    def __init__(
        self,
        secrets: SecretStore,
        secret_name: str,
        *,
        min_refresh_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._secrets = secrets
        self._name = secret_name
        self._document: Any = None
        self._keyring: Keyring | None = None
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._refreshed_at: float | None = None

    def refresh(self) -> bool:
        """Forget the cached secret and read it again; True if that produced a different keyring."""
        now = self._clock()
        if self._refreshed_at is not None and now - self._refreshed_at < self._min_refresh:
            return False
        clear = getattr(self._secrets, "clear", None)
        if clear is None:
            return False
        self._refreshed_at = now
        before = self._document
        clear()
        self.get()
        return self._document != before

    def get(self) -> Keyring:
        try:
            document = self._secrets.get_json(self._name)
        except Exception as exc:
            raise IntakeUnavailable("the NCS secret could not be read") from exc
        if document is not self._document or self._keyring is None:
            try:
                keyring = Keyring.from_json(document)
            except NcsSecretError as exc:  # the message names labels only, never values
                raise IntakeUnavailable(f"the NCS secret is misconfigured: {exc}") from exc
            self._document, self._keyring = document, keyring
        return self._keyring


def request_body(event: Mapping[str, Any], max_bytes: int) -> bytes:
    """The raw body bytes of an API Gateway (payload v2) event, base64-decoded if needed; 413 if too big."""
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        text = body if isinstance(body, str) else str(body)
        if len(text) > (max_bytes + 2) // 3 * 4 + 4:
            raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the body is not valid base64") from exc
    else:
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    return raw


def accept_notice(
    raw: bytes,
    headers: Mapping[str, str],
    *,
    keyring: Keyring,
    inbox: InboxRepository,
    settings: IntakeSettings,
    now: Callable[[], float] = time.time,
) -> Accepted:
    """Verify, validate and store one NCS delivery. Raises Unauthorized (401), BadRequest (400)."""
    if len(raw) > settings.ncs_max_body_bytes:
        raise PayloadTooLarge(f"the body is larger than {settings.ncs_max_body_bytes} bytes")
    verification = keyring.verify(raw, headers)
    if verification is None:
        raise BadSignature("missing or invalid Agora-Signature-V2 / Agora-Signature")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8 JSON") from exc
    try:
        envelope, _ = loads_envelope(text)
    except NcsEventError as exc:
        raise BadRequest(str(exc)) from exc
    if not verification.allows(envelope.product_id):
        raise Unauthorized(f"the signing secret is not configured for productId {envelope.product_id}")
    received = now()
    ttl = settings.ncs_event_ttl_seconds
    if envelope.product_id == PRODUCT_CLOUD_RECORDING and envelope.event_type == UPLOAD_PROGRESS_EVENT:
        ttl = settings.ncs_progress_ttl_seconds
    record = InboxRecord(
        notice_id=envelope.notice_id,
        product_id=envelope.product_id,
        event_type=envelope.event_type,
        body=text,
        received_ms=int(received * 1000),
        expires_at=int(received) + ttl,
        signature=verification.header,
        notify_ms=envelope.notify_ms,
        sid=envelope.sid,
        cname=envelope.cname,
    )
    size = item_size(record.to_item())
    if size > MAX_ITEM_BYTES:
        raise NoticeTooLarge(
            f"the notice cannot be stored: its inbox item would be {size} bytes, above DynamoDB's "
            f"400 KB item limit ({MAX_ITEM_BYTES} bytes) (body {len(raw)} bytes); it is refused, not retried"
        )
    try:
        stored = inbox.put_new(record)
    except Exception as exc:
        if _is_item_too_large(exc):  # our estimate missed: still a notice we can never store, never a 503
            raise NoticeTooLarge(f"the notice cannot be stored: {_error_message(exc)}") from exc
        raise IntakeUnavailable("the event could not be stored; NCS will deliver it again") from exc
    return Accepted(envelope=envelope, verification=verification, stored=stored, size=len(raw))


# ---------------------------------------------------------------------------------------------- processor

RecordingApplier = Callable[[dict[str, Any]], None]
#: Conversational AI agents (NCS product 17): ``service.agents.usecases.event_applier``; returns the outcome
AgentApplier = Callable[[dict[str, Any]], str]
PRODUCT_CONVOAI = 17


#: Agora's leave reason "abnormal user" (e.g. one uid on two devices): Agora advises kicking it
ABNORMAL_LEAVE_REASON = 999
#: ``(channel, uid)``: what the processor does on such a leave (``ProcessorSettings.abnormal_leave_action``)
AbnormalLeaveAction = Callable[[str, int], None]
_log = logging.getLogger(__name__)


def one_time_kick(kick: Callable[..., Any]) -> AbnormalLeaveAction:
    """The 999 action: a one-time kick (``time`` 0: out now, may rejoin) of the uid from the channel.

    A failed kick is logged, not raised: the presence write already happened, so a redelivery would find
    the leave stale and not kick again; failing the record would only delay the rest of the shard."""

    def action(channel: str, uid: int) -> None:
        try:
            rule = kick(channel, uid=uid, seconds=0, privileges=["join_channel"])
        except Exception:
            _log.warning("abnormal leave: the one-time kick failed", extra={"channel": channel, "uid": uid},
                           exc_info=True)  # fmt: skip
            return
        _log.info("abnormal leave: one-time kick", extra={"channel": channel, "uid": uid, "rule_id": rule})

    return action


PRODUCT_STT = 20  # Real-Time STT v7: the notice's sid is the agent id


def dispatch_notice(  # noqa: PLR0911 - one return per product
    notice: dict[str, Any],
    *,
    presence: PresenceStore,
    recordings: RecordingApplier | None,
    settings: ProcessorSettings,
    now: float,
    on_abnormal_leave: AbnormalLeaveAction | None = None,
    transcriptions: Callable[[dict[str, Any]], str] | None = None,
    agents: AgentApplier | None = None,
) -> tuple[Envelope | None, str]:
    """Route one stored notice by productId; returns the envelope and the outcome for the log.

    Exceptions from the effects (DynamoDB throttling, the recording workflow) propagate: the record is
    reported as failed and the stream delivers it again. A notice that can never be applied (malformed
    payload) is logged and skipped instead, so it cannot block the shard.
    """
    try:
        envelope = parse_envelope(notice)
    except NcsEventError as exc:
        return None, f"invalid: {exc}"
    if envelope.product_id == PRODUCT_CLOUD_RECORDING:
        if recordings is None:
            return envelope, "skipped: no recording workflow deployed"
        recordings(notice)
        return envelope, "recording"
    if envelope.product_id == PRODUCT_CONVOAI:  # Conversational AI agents (service.agents)
        if agents is None:
            return envelope, "skipped: no agents deployed"
        return envelope, f"agent: {agents(notice)}"
    if envelope.product_id == PRODUCT_RTC:
        return envelope, _dispatch_rtc(
            envelope, presence=presence, settings=settings, now=now, on_abnormal_leave=on_abnormal_leave
        )
    if envelope.product_id == PRODUCT_STT and transcriptions is not None:  # Real-Time STT (service.transcriptions)
        return envelope, transcriptions(notice)
    return envelope, "ignored: product not handled"


def _dispatch_rtc(
    envelope: Envelope,
    *,
    presence: PresenceStore,
    settings: ProcessorSettings,
    now: float,
    on_abnormal_leave: AbnormalLeaveAction | None = None,
) -> str:
    try:
        event = parse_rtc_event(envelope)
    except NcsEventError as exc:
        return f"invalid: {exc}"
    if event is None:
        return "ignored: undocumented RTC event"
    outcome = apply_rtc_event(event, presence, settings=settings, now=now, notice_id=envelope.notice_id)
    if (
        event.kind == "leave"
        and event.reason == ABNORMAL_LEAVE_REASON
        and event.uid is not None
        and outcome == "applied"  # not a stale or repeated leave: the user's latest state
        and settings.abnormal_leave_action == "kick"
        and on_abnormal_leave is not None
    ):
        on_abnormal_leave(event.channel, event.uid)
        return f"presence:{outcome}; abnormal leave: kicked"
    return f"presence:{outcome}"
