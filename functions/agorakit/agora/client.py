"""AgoraClient: Cloud Recording and channel-management REST calls with Agora's failure semantics built in.

Per attempt: the rate limiter is consulted, the request goes out with a timeout, and the answer is
classified by :func:`agorakit.agora.errors.classify` (body ``code`` first, then HTTP status).
Transient answers (429, 5xx, 206/65, network errors) are retried with exponential backoff and full
jitter, honouring ``Retry-After``; parameter errors never are. Hosts fail over as Agora advises:
one retry on the same host, then the next host in ``base_urls`` (network errors move on at once).

The customer secret is only ever inside the Authorization header; it is in no repr, log line or error.

Over 400 lines on purpose: one client for every Agora REST call shares its transport, failover, retries, error
classification and rate limiting; splitting the endpoints from that core would spread one contract over several
files.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

from agorakit.agora.errors import (
    AgoraError,
    AgoraParameterError,
    AgoraServerError,
    AgoraUnavailableError,
    Verdict,
    body_code,
    body_reason,
    classify,
)
from agorakit.agora.models import (
    MAX_UID,
    QueryResult,
    StartResult,
    StopResult,
    StorageConfig,
    build_recording_config,
    normalize_file_list,
    storage_body,
    uploading_status,
    validate_cname,
    validate_mode,
    validate_uid,
)
from agorakit.agora.ratelimit import RateLimiter
from agorakit.agora.regions import default_base_urls

if TYPE_CHECKING:
    import httpx

__all__ = ["AgoraClient"]

logger = logging.getLogger("agorakit.agora")

USER_AGENT = "agora-serverless/0.1 (+agorakit)"
CONTENT_TYPE = "application/json;charset=utf-8"
PRIVILEGES = frozenset({"join_channel", "publish_audio", "publish_video"})
MAX_RETRY_AFTER = 60.0


def _segment(value: str) -> str:
    """One URL path segment: percent-encoded, and "." / ".." (valid channel names) with their dots encoded,
    so that they are not dot-segments that the HTTP client would resolve away (``/x/..`` -> ``/``)."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    request_id: str | None
    verdict: Verdict


class AgoraClient:
    """A synchronous client for one App ID. Thread-safe (httpx.Client is); create once per process."""

    def __init__(
        self,
        *,
        app_id: str,
        customer_id: str,
        customer_secret: str,
        base_urls: Sequence[str] | None = None,
        timeout: float = 10.0,
        max_attempts: int = 5,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 20.0,
    ):
        import httpx  # imported here so that importing agorakit.agora stays cheap

        if not app_id or not isinstance(app_id, str):
            raise AgoraParameterError("app_id is required")
        if not customer_id or not customer_secret:
            raise AgoraParameterError("customer_id and customer_secret are required")
        if max_attempts < 1:
            raise AgoraParameterError("max_attempts must be at least 1")
        if timeout <= 0:
            raise AgoraParameterError("timeout must be positive")
        urls = [u.strip().rstrip("/") for u in (base_urls or default_base_urls()) if u and u.strip()]
        if not urls:
            raise AgoraParameterError("base_urls is empty")
        for url in urls:
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                raise AgoraParameterError(f"base url {url!r} is not an http(s) URL")
        self.app_id = app_id
        self.base_urls: tuple[str, ...] = tuple(urls)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.rate_limiter = rate_limiter
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng
        self._app_path = quote(app_id, safe="")
        token = base64.b64encode(f"{customer_id}:{customer_secret}".encode()).decode("ascii")
        # httpx masks the Authorization header in its reprs; the credentials are kept nowhere else.
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"Authorization": f"Basic {token}", "User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self._httpx = httpx

    def __repr__(self) -> str:
        return f"AgoraClient(app_id={self.app_id!r}, base_urls={list(self.base_urls)!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AgoraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport and retries

    def _backoff(self, retry_no: int, base: float) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**retry_no)]."""
        return self._rng() * min(self.backoff_cap, base * (2**retry_no))

    def _call(  # noqa: PLR0912, PLR0915 - one loop holds the whole retry/failover policy, kept in one place
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        on_ambiguous: Callable[[], dict[str, Any] | None] | None = None,
    ) -> _Answer:
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        headers = {"Content-Type": CONTENT_TYPE} if content is not None else None
        host = 0
        tries_on_host = 0
        tried_hosts: set[int] = set()
        last_error: AgoraError | None = None
        had_ambiguous = False  # an earlier attempt may have been executed by Agora
        for attempt in range(1, self.max_attempts + 1):
            base_url = self.base_urls[host]
            tried_hosts.add(host)
            if self.rate_limiter is not None:
                try:
                    self.rate_limiter.acquire(1)
                except AgoraError as exc:  # no slot in time: this attempt was never sent
                    exc.maybe_executed = had_ambiguous
                    raise
            tries_on_host += 1
            netloc = urlsplit(base_url).netloc
            ambiguous = False
            try:
                response = self._http.request(method, base_url + path, content=content, params=params, headers=headers)
            except self._httpx.TransportError as exc:
                kind = type(exc).__name__
                # A connect failure reached nobody; a read timeout may have been executed by Agora.
                ambiguous = not isinstance(exc, self._httpx.ConnectError | self._httpx.ConnectTimeout)
                last_error = AgoraUnavailableError(f"Agora {operation}: {kind} talking to {netloc}")
                had_ambiguous = had_ambiguous or ambiguous
                connect_failed = not ambiguous
                host = (host + 1) % len(self.base_urls)
                tries_on_host = 0
                if attempt >= self.max_attempts:
                    break
                delay = (
                    0.0 if connect_failed and host not in tried_hosts else self._backoff(attempt - 1, self.backoff_base)
                )
                logger.warning(
                    "agora %s via %s failed (%s); attempt %d/%d, next host %s in %.2fs",
                    operation, netloc, kind, attempt, self.max_attempts,
                    urlsplit(self.base_urls[host]).netloc, delay,
                )  # fmt: skip
            else:
                answer = self._answer(operation, response)
                if answer.verdict.kind != "retry":
                    if answer.verdict.kind == "raise":
                        error = self._error(operation, answer)
                        if had_ambiguous:
                            error.message += " (an earlier attempt got no clear answer and may have taken effect)"
                        error.maybe_executed = had_ambiguous
                        raise error
                    logger.debug(
                        "agora %s -> %s code=%s request_id=%s",
                        operation, answer.status, body_code(answer.body), answer.request_id,
                    )  # fmt: skip
                    return answer
                last_error = self._error(operation, answer)
                code = body_code(answer.body)
                ambiguous = answer.status >= 500
                had_ambiguous = had_ambiguous or ambiguous or code == 65
                retry_after = _retry_after(response.headers.get("Retry-After"))
                if answer.status >= 500 and tries_on_host >= 2 and len(self.base_urls) > 1:
                    host = (host + 1) % len(self.base_urls)  # once on the same host, then fail over
                    tries_on_host = 0
                if attempt >= self.max_attempts:
                    break
                delay = self._backoff(attempt - 1, self.backoff_base * (3.0 if code == 65 else 1.0))
                if retry_after is not None:
                    delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
                logger.warning(
                    "agora %s via %s -> HTTP %s code=%s request_id=%s; attempt %d/%d, retrying in %.2fs",
                    operation, netloc, answer.status, code, answer.request_id, attempt, self.max_attempts, delay,
                )  # fmt: skip
            if delay > 0:
                self._sleep(delay)
            if ambiguous and on_ambiguous is not None:
                found = on_ambiguous()
                if found is not None:
                    logger.info("agora %s: an earlier attempt took effect; not repeating it", operation)
                    return _Answer(200, found, None, Verdict("ok"))
        assert last_error is not None
        last_error.maybe_executed = had_ambiguous
        raise last_error

    def _answer(self, operation: str, response: httpx.Response) -> _Answer:
        body: dict[str, Any] = {}
        if response.content:
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                body = parsed
        request_id = response.headers.get("X-Request-ID") or _str_or_none(
            body.get("requestId") or body.get("request_id")
        )
        return _Answer(response.status_code, body, request_id, classify(operation, response.status_code, body))

    def _error(self, operation: str, answer: _Answer) -> AgoraError:
        cls = answer.verdict.error or AgoraError
        reason = body_reason(answer.body)
        return cls(
            f"Agora {operation} failed",
            code=body_code(answer.body),
            http_status=answer.status,
            request_id=answer.request_id,
            reason=reason,
            retryable=answer.verdict.retryable or cls.retryable,
        )

    # ------------------------------------------------------------------ cloud recording

    def _recording_path(self, tail: str) -> str:
        return f"/v1/apps/{self._app_path}/cloud_recording{tail}"

    def _task_path(self, resource_id: str, sid: str | None, mode: str, action: str) -> str:
        if not resource_id or not isinstance(resource_id, str):
            raise AgoraParameterError("resource_id is required")
        rid = quote(resource_id, safe="-_.~")
        mode_part = quote(validate_mode(mode), safe="")
        if sid is None:
            return self._recording_path(f"/resourceid/{rid}/mode/{mode_part}/{action}")
        if not sid or not isinstance(sid, str):
            raise AgoraParameterError("sid is required")
        return self._recording_path(f"/resourceid/{rid}/sid/{quote(sid, safe='')}/mode/{mode_part}/{action}")

    def acquire(
        self,
        cname: str,
        uid: int | str,
        *,
        scene: int = 0,
        resource_expired_hour: int = 72,
        start_parameter: dict[str, Any] | None = None,
        region: str | None = None,
        exclude_resource_ids: Sequence[str] | None = None,
    ) -> str:
        """A resource ID for one recording task. Start it at once: it expires after 5 minutes."""
        if scene not in (0, 1, 2):
            raise AgoraParameterError("scene must be 0 (real-time), 1 (web) or 2 (postponed transcoding)")
        if isinstance(resource_expired_hour, bool) or not 1 <= int(resource_expired_hour) <= 720:
            raise AgoraParameterError("resource_expired_hour must be in [1, 720]")
        client_request: dict[str, Any] = {"scene": scene, "resourceExpiredHour": int(resource_expired_hour)}
        if region is not None:
            if region not in ("CN", "AP", "EU", "NA"):
                raise AgoraParameterError("region must be one of CN, AP, EU, NA")
            client_request["region"] = region
        if exclude_resource_ids:
            client_request["excludeResourceIds"] = list(exclude_resource_ids)
        if start_parameter:
            client_request["startParameter"] = dict(start_parameter)
        body = {
            "cname": validate_cname(cname, web=scene == 1),
            "uid": validate_uid(uid),
            "clientRequest": client_request,
        }
        answer = self._call("acquire", "POST", self._recording_path("/acquire"), body=body)
        resource_id = answer.body.get("resourceId")
        if not isinstance(resource_id, str) or not resource_id:
            raise AgoraServerError("Agora acquire answered without a resourceId", request_id=answer.request_id)
        return resource_id

    def start(
        self,
        resource_id: str,
        cname: str,
        uid: int | str,
        mode: str,
        *,
        token: str | None,
        recording_config: dict[str, Any] | None = None,
        storage_config: StorageConfig | dict[str, Any],
        recording_file_config: dict[str, Any] | None = None,
        snapshot_config: dict[str, Any] | None = None,
        extension_service_config: dict[str, Any] | None = None,
        app_extra: dict[str, Any] | None = None,
    ) -> StartResult:
        """Start recording; returns the sid. HTTP 201 code 7 raises AgoraAlreadyStartedError.

        ``app_extra`` holds further ``clientRequest`` keys (e.g. ``appsCollection``); they are merged last
        and not validated here.
        """
        body = self.start_body(
            cname,
            uid,
            mode,
            token=token,
            recording_config=recording_config,
            storage_config=storage_config,
            recording_file_config=recording_file_config,
            snapshot_config=snapshot_config,
            extension_service_config=extension_service_config,
            app_extra=app_extra,
        )
        answer = self._call("start", "POST", self._task_path(resource_id, None, mode, "start"), body=body)
        sid = answer.body.get("sid")
        if not isinstance(sid, str) or not sid:
            raise AgoraServerError(
                "Agora start answered without a sid", code=body_code(answer.body), request_id=answer.request_id
            )
        return StartResult(resource_id=str(answer.body.get("resourceId") or resource_id), sid=sid)

    @staticmethod
    def start_body(  # noqa: PLR0912 - one check per documented start rule
        cname: str,
        uid: int | str,
        mode: str,
        *,
        token: str | None,
        recording_config: dict[str, Any] | None = None,
        storage_config: StorageConfig | dict[str, Any],
        recording_file_config: dict[str, Any] | None = None,
        snapshot_config: dict[str, Any] | None = None,
        extension_service_config: dict[str, Any] | None = None,
        app_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The validated ``start`` body, with the documented defaults applied (pure; no network)."""
        validate_mode(mode)
        web = mode == "web"
        uid_s = validate_uid(uid)
        client_request: dict[str, Any] = {}
        if token:
            client_request["token"] = token
        if web:
            if recording_config:
                raise AgoraParameterError("web mode takes no recordingConfig")
            if not extension_service_config:
                raise AgoraParameterError("web mode needs extension_service_config")
        else:
            client_request["recordingConfig"] = build_recording_config(mode, uid_s, recording_config)
        if extension_service_config:
            if not web:
                raise AgoraParameterError("extensionServiceConfig is for web mode only")
            client_request["extensionServiceConfig"] = dict(extension_service_config)
        if recording_file_config:
            av = recording_file_config.get("avFileType", ["hls"])
            if not isinstance(av, list) or not av or not set(av) <= {"hls", "mp4"}:
                raise AgoraParameterError('recordingFileConfig.avFileType must be ["hls"] or ["hls","mp4"]')
            if "mp4" in av and "hls" not in av:
                raise AgoraParameterError('recordingFileConfig.avFileType ["mp4"] alone is rejected; use ["hls","mp4"]')
            if mode in ("individual", "raw") and "mp4" in av:
                raise AgoraParameterError('individual recording keeps the default avFileType ["hls"]')
            client_request["recordingFileConfig"] = dict(recording_file_config)
        if snapshot_config:
            if mode not in ("individual", "raw"):
                raise AgoraParameterError("snapshotConfig is for individual mode only")
            subscribed = client_request.get("recordingConfig") or {}
            if subscribed.get("streamTypes", 2) == 0:
                raise AgoraParameterError("screenshots need video: streamTypes must be 1 or 2")
            if "subscribeAudioUids" in subscribed and "subscribeVideoUids" not in subscribed:
                raise AgoraParameterError("screenshots: set subscribeVideoUids when subscribeAudioUids is set")
            client_request["snapshotConfig"] = dict(snapshot_config)
        client_request["storageConfig"] = storage_body(storage_config)
        if app_extra:
            client_request.update(app_extra)
        return {"cname": validate_cname(cname, web=web), "uid": uid_s, "clientRequest": client_request}

    def query(self, resource_id: str, sid: str, mode: str) -> QueryResult:
        """Task status (``serverResponse.status``) and files so far. 404/49 raise AgoraNotFoundError."""
        answer = self._call("query", "GET", self._task_path(resource_id, sid, mode, "query"))
        server = answer.body.get("serverResponse")
        server = server if isinstance(server, dict) else {}
        files, list_mode = normalize_file_list(server)
        status = server.get("status")
        return QueryResult(
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            file_list=files,
            file_list_mode=list_mode,
            raw=answer.body,
        )

    def update(  # noqa: PLR0917 - positional order shared with update_layout and stop (resource, sid, cname, uid, mode)
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, client_request: dict[str, Any]
    ) -> dict[str, Any]:
        """Change subscriptions, web onhold, RTMP outputs or STS credentials. Send one at a time."""
        body = self._task_body(cname, uid, mode, client_request)
        if "storageConfig" in client_request:
            body["clientRequest"]["storageConfig"] = storage_body(client_request["storageConfig"])
        return self._call("update", "POST", self._task_path(resource_id, sid, mode, "update"), body=body).body

    def update_layout(  # noqa: PLR0917 - positional order shared with update_layout and stop (resource, sid, cname, uid, mode)
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, client_request: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the WHOLE mix layout (omitted fields revert to defaults). Mix mode only."""
        if mode != "mix":
            raise AgoraParameterError("updateLayout works in mix mode only")
        body = self._task_body(cname, uid, mode, client_request)
        path = self._task_path(resource_id, sid, mode, "updateLayout")
        return self._call("updateLayout", "POST", path, body=body).body

    def stop(
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, *, async_stop: bool = True
    ) -> StopResult:
        """Stop idempotently: 206/435 -> outcome "empty"; 404 or 49 (already gone/exiting) -> "gone"."""
        body = self._task_body(cname, uid, mode, {"async_stop": bool(async_stop)})
        answer = self._call("stop", "POST", self._task_path(resource_id, sid, mode, "stop"), body=body)
        server = answer.body.get("serverResponse")
        server = server if isinstance(server, dict) else {}
        files, _ = normalize_file_list(server)
        kind = answer.verdict.kind
        outcome: Literal["stopped", "empty", "gone"] = (
            "empty" if kind == "empty" else "gone" if kind == "gone" else "stopped"
        )
        status = uploading_status(server)
        if status is None and body_code(answer.body) == 50:
            status = "unknown"
        return StopResult(outcome=outcome, file_list=files, uploading_status=status, raw=answer.body)

    @staticmethod
    def _task_body(cname: str, uid: int | str, mode: str, client_request: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(client_request, dict):
            raise AgoraParameterError("client_request must be a dict")
        return {
            "cname": validate_cname(cname, web=validate_mode(mode) == "web"),
            "uid": validate_uid(uid),
            "clientRequest": dict(client_request),
        }

    # ------------------------------------------------------------------ channel management

    def _rules_path(self) -> str:
        return "/dev/v1/kicking-rule"

    def create_kicking_rule(
        self,
        cname: str | None,
        *,
        uid: int | None = None,
        ip: str | None = None,
        seconds: int,
        privileges: Sequence[str] = ("join_channel",),
    ) -> int:
        """Ban (or, with ``seconds=0``, kick once) users matching cname/uid/ip. Returns the rule id.

        If an attempt timed out or met a 5xx, the rules are listed before repeating the POST, as Agora
        advises, so a retry does not create a second rule.
        """
        if not cname and uid is None and not ip:
            raise AgoraParameterError("a kicking rule needs at least one of cname, uid, ip")
        body: dict[str, Any] = {"appid": self.app_id}
        if cname:
            body["cname"] = validate_cname(cname)
        if uid is not None:
            body["uid"] = int(validate_uid(uid))
        if ip:
            if not isinstance(ip, str) or ip == "0":
                raise AgoraParameterError("ip must be an address string")
            body["ip"] = ip
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise AgoraParameterError("seconds must be a non-negative integer (0 = one-time kick)")
        privs = list(privileges)
        if not privs or not set(privs) <= PRIVILEGES:
            raise AgoraParameterError(f"privileges must be a non-empty subset of {sorted(PRIVILEGES)}")
        body["time_in_seconds"] = seconds
        body["privileges"] = privs

        def existing() -> dict[str, Any] | None:
            if seconds == 0:
                return None  # a one-time kick leaves no rule to find; repeating it is harmless
            for rule in self.list_kicking_rules():
                if (
                    (rule.get("cname") or None) == body.get("cname")
                    and _int_or_none(rule.get("uid")) == body.get("uid")
                    and (rule.get("ip") or None) == body.get("ip")
                    and sorted(rule.get("privileges") or []) == sorted(privs)
                ):
                    return {"status": "success", "id": rule.get("id")}
            return None

        answer = self._call("kicking_rule.create", "POST", self._rules_path(), body=body, on_ambiguous=existing)
        _expect_success("kicking_rule.create", answer)
        rule_id = _int_or_none(answer.body.get("id"))
        if rule_id is None:
            raise AgoraServerError("Agora answered a kicking rule without an id", request_id=answer.request_id)
        return rule_id

    def list_kicking_rules(self) -> list[dict[str, Any]]:
        answer = self._call("kicking_rule.list", "GET", self._rules_path(), params={"appid": self.app_id})
        _expect_success("kicking_rule.list", answer)
        rules = answer.body.get("rules")
        return [dict(r) for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []

    def update_kicking_rule(self, rule_id: int, seconds: int) -> dict[str, Any]:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise AgoraParameterError("seconds must be a non-negative integer")
        body = {"appid": self.app_id, "id": _rule_id(rule_id), "time_in_seconds": seconds}
        answer = self._call("kicking_rule.update", "PUT", self._rules_path(), body=body)
        _expect_success("kicking_rule.update", answer)
        result = answer.body.get("result")
        return dict(result) if isinstance(result, dict) else {"id": _rule_id(rule_id)}

    def delete_kicking_rule(self, rule_id: int) -> None:
        body = {"appid": self.app_id, "id": _rule_id(rule_id)}
        answer = self._call("kicking_rule.delete", "DELETE", self._rules_path(), body=body)
        _expect_success("kicking_rule.delete", answer)

    def list_channels(self, page_no: int = 0, page_size: int = 100) -> dict[str, Any]:
        """One page of the online-channel list. Pages may repeat or miss channels while occupancy changes."""
        if isinstance(page_no, bool) or not isinstance(page_no, int) or page_no < 0:
            raise AgoraParameterError("page_no must be >= 0")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 500:
            raise AgoraParameterError("page_size must be in [1, 500]")
        path = f"/dev/v1/channel/{self._app_path}"
        answer = self._call("channel.list", "GET", path, params={"page_no": page_no, "page_size": page_size})
        data = _expect_success("channel.list", answer)
        channels = [
            {"channel_name": str(c.get("channel_name")), "user_count": int(c.get("user_count") or 0)}
            for c in data.get("channels") or []
            if isinstance(c, dict)
        ]
        return {
            "channels": channels,
            "total_size": int(data.get("total_size") or 0),
            "page_no": page_no,
            "page_size": page_size,
        }

    def channel_users(self, cname: str) -> dict[str, Any]:
        """Who is in a channel. ``users`` is everyone; in live channels ``hosts`` and ``audience`` split it."""
        path = f"/dev/v1/channel/user/{self._app_path}/{_segment(validate_cname(cname))}"
        data = _expect_success("channel.users", self._call("channel.users", "GET", path))
        if not data.get("channel_exist"):
            return {"channel_exist": False, "mode": None, "hosts": [], "audience": [], "users": [], "total": 0}
        mode = _int_or_none(data.get("mode"))
        if mode == 2:
            hosts = _uids(data.get("broadcasters"))
            audience = _uids(data.get("audience"))
            total = len(hosts) + int(data.get("audience_total") or len(audience))
            return {"channel_exist": True, "mode": 2, "hosts": hosts, "audience": audience,
                    "users": hosts + audience, "total": total}  # fmt: skip
        users = _uids(data.get("users"))
        return {"channel_exist": True, "mode": mode, "hosts": [], "audience": [], "users": users,
                "total": int(data.get("total") or len(users))}  # fmt: skip

    def channel_hosts(self, cname: str) -> list[int]:
        """Hosts (broadcasters) of a live channel."""
        path = f"/dev/v1/channel/user/{self._app_path}/{_segment(validate_cname(cname))}/hosts_only"
        data = _expect_success("channel.hosts", self._call("channel.hosts", "GET", path))
        return _uids(data.get("broadcasters")) if data.get("channel_exist") else []

    def ncs_ips(self) -> list[str]:
        """The addresses NCS sends notifications from (``GET /v2/ncs/ip``), for a firewall allow-list.

        They change: Agora says to fetch them at least every 24 hours."""
        return _ncs_addresses(self._call("ncs.ip", "GET", "/v2/ncs/ip"))

    def user_status(self, cname: str, uid: int) -> dict[str, Any]:
        """Whether ``uid`` is in ``cname``; role 0 unknown, 1 communication, 2 host, 3 audience."""
        uid_s = validate_uid(uid)
        path = f"/dev/v1/channel/user/property/{self._app_path}/{uid_s}/{_segment(validate_cname(cname))}"
        data = _expect_success("channel.user_status", self._call("channel.user_status", "GET", path))
        if not data.get("in_channel"):
            return {"in_channel": False, "role": None, "join": None, "platform": None}
        return {
            "in_channel": True,
            "role": _int_or_none(data.get("role")),
            "join": _int_or_none(data.get("join")),
            "platform": _int_or_none(data.get("platform")),
        }


def _ncs_addresses(answer: _Answer) -> list[str]:
    """``{"data": {"service": {"hosts": [{"primaryIP": "x.x.x.x"}, ...]}}}`` -> the addresses, sorted, no repeats."""
    import ipaddress  # only this rare call needs it

    data = answer.body.get("data")
    service = data.get("service") if isinstance(data, dict) else None
    hosts = service.get("hosts") if isinstance(service, dict) else None
    if not isinstance(hosts, list):
        raise AgoraServerError(
            "Agora ncs.ip answered without data.service.hosts",
            http_status=answer.status,
            request_id=answer.request_id,
            retryable=False,
        )
    found = set()
    for host in hosts:
        address = host.get("primaryIP") if isinstance(host, dict) else None
        try:
            found.add(str(ipaddress.ip_address(str(address))))
        except ValueError:
            continue  # an entry that is not an address is skipped, never allowed
    return sorted(found, key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a)))


def _expect_success(operation: str, answer: _Answer) -> dict[str, Any]:
    """Channel-management bodies: ``{"success": true, "data": {...}}`` or ``{"status": "success", ...}``."""
    body = answer.body
    if body.get("success") is True or body.get("status") == "success":
        data = body.get("data")
        return data if isinstance(data, dict) else body
    raise AgoraServerError(
        f"Agora {operation} did not report success",
        http_status=answer.status,
        request_id=answer.request_id,
        reason=body_reason(body),
        retryable=False,
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _uids(values: Any) -> list[int]:
    out = []
    for value in values or []:
        uid = _int_or_none(value)
        if uid is not None and 0 <= uid <= MAX_UID:
            out.append(uid)
    return out


def _rule_id(rule_id: int) -> int:
    if isinstance(rule_id, bool) or not isinstance(rule_id, int) or rule_id < 0:
        raise AgoraParameterError("rule_id must be a non-negative integer")
    return rule_id


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
