"""Web page recording's CDN push (``rtmp_publish_service``): start/update validation, the per-address state
and NCS event 100 (``rtmp_publish_status``, serviceType 6).

Agora's rules as the web-page-mode page and the update reference give them: the service sits next to
``web_recorder_service`` in a web task only; each address is RTMP or RTMPS; at most ``MAX_OUTPUTS`` of them;
``update`` ``rtmpPublishConfig`` replaces the addresses. States: ``connecting`` when an address is set,
``publishing`` once the CDN took it, ``onhold`` while the web recorder is paused, ``disconnected`` when it is
dropped, the CDN cannot be reached, or the task ends. The events go through the same (hostile) sender as
every other: lost, repeated, late.

Unreachable CDN: an address whose host ends in ``.invalid`` (RFC 2606: never resolves) goes from
``connecting`` to ``disconnected`` instead of ``publishing``, so tests can exercise a failing push.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from emulator.base import WorldBase
from emulator.model import Task, rec_error

SERVICE = "rtmp_publish_service"
WEB_SERVICE = "web_recorder_service"
SERVICES = frozenset({WEB_SERVICE, SERVICE})
POLICIES = frozenset({"error_abort", "error_ignore"})
MAX_OUTPUTS = 1
RTMP_URL = re.compile(r"^rtmps?://[^\s/]+/\S+$")
#: emulated seconds an address stays ``connecting`` before the CDN answers
CONNECT_SECONDS = 1.0
EVENT = 100
SERVICE_TYPE = 6


def validate_outputs(outputs: Any, where: str) -> list[str]:
    """The addresses of ``outputs`` (``[{"rtmpUrl": ...}]``), or code 2 as Agora answers a bad parameter."""
    if not isinstance(outputs, list) or not outputs:
        raise rec_error(400, 2, f"{where}.outputs must be a non-empty list")
    if len(outputs) > MAX_OUTPUTS:
        raise rec_error(400, 2, f"{where}.outputs: at most {MAX_OUTPUTS} output")
    urls = []
    for output in outputs:
        url = output.get("rtmpUrl") if isinstance(output, dict) else None
        if not isinstance(url, str) or not RTMP_URL.match(url) or len(url) > 1024:
            raise rec_error(400, 2, f"{where}.outputs[].rtmpUrl must be an rtmp:// or rtmps:// URL")
        if set(output) != {"rtmpUrl"}:
            raise rec_error(400, 2, f"{where}.outputs[] takes rtmpUrl only")
        urls.append(url)
    if len(set(urls)) != len(urls):
        raise rec_error(400, 2, f"{where}.outputs has duplicates")
    return urls


def validate_extension_services(mode: str, request: dict[str, Any]) -> list[str]:
    """start's ``extensionServiceConfig``: in web mode one ``web_recorder_service`` and at most one
    ``rtmp_publish_service`` (returns its addresses); elsewhere no CDN push at all (code 2)."""
    config = request.get("extensionServiceConfig")
    services = config.get("extensionServices") if isinstance(config, dict) else None
    if mode != "web":
        if isinstance(services, list) and any(
            isinstance(s, dict) and s.get("serviceName") == SERVICE for s in services
        ):
            raise rec_error(400, 2, "rtmp_publish_service is for web mode only")
        return []
    if not isinstance(services, list) or not services:
        raise rec_error(400, 2, "extensionServiceConfig.extensionServices must be a non-empty list")
    names = []
    urls: list[str] = []
    for service in services:
        name = service.get("serviceName") if isinstance(service, dict) else None
        if name not in SERVICES:
            raise rec_error(400, 2, f"extensionServices[].serviceName {name!r} is invalid")
        if "errorHandlePolicy" in service and service["errorHandlePolicy"] not in POLICIES:
            raise rec_error(400, 2, f"{name}.errorHandlePolicy is invalid")
        if not isinstance(service.get("serviceParam"), dict):
            raise rec_error(400, 2, f"{name}.serviceParam is required")
        names.append(name)
        if name == SERVICE:
            urls = validate_outputs(service["serviceParam"].get("outputs"), f"{SERVICE}.serviceParam")
    if names.count(WEB_SERVICE) != 1 or names.count(SERVICE) > 1:
        raise rec_error(400, 2, "web mode takes one web_recorder_service and at most one rtmp_publish_service")
    return urls


def _unreachable(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith(".invalid")


class CdnMixin(WorldBase):
    """The CDN push of web tasks: each address's state on the task, event 100 for every change."""

    def _cdn_set(self, task: Task, url: str, status: str) -> None:
        output = task.cdn_outputs.setdefault(url, {"status": None, "since": self.clock.now()})
        if output["status"] == status:
            return
        output["status"] = status
        output["since"] = self.clock.now()
        self._recording_event(
            task, EVENT, SERVICE_TYPE, {"msgName": "rtmp_publish_status", "rtmpUrl": url, "status": status}
        )

    def _cdn_start(self, task: Task, urls: list[str]) -> None:
        for url in urls:
            self._cdn_set(task, url, "connecting")

    def _cdn_tick(self, task: Task, now: float) -> None:
        for url, output in list(task.cdn_outputs.items()):
            if output["status"] == "connecting" and now - output["since"] >= CONNECT_SECONDS:
                if _unreachable(url):
                    self._cdn_set(task, url, "disconnected")
                else:
                    self._cdn_set(task, url, "onhold" if task.onhold else "publishing")

    def _cdn_update(self, task: Task, request: dict[str, Any]) -> None:
        """update's ``rtmpPublishConfig`` (replace the addresses) and ``webRecordingConfig.onhold`` (pause),
        validated before anything changes."""
        publish = request.get("rtmpPublishConfig")
        web = request.get("webRecordingConfig")
        urls = None
        if publish is not None:
            if task.mode != "web" or not task.cdn_current:
                raise rec_error(400, 2, "rtmpPublishConfig needs a web task started with rtmp_publish_service")
            urls = validate_outputs(publish.get("outputs") if isinstance(publish, dict) else None, "rtmpPublishConfig")
        onhold = web.get("onhold") if isinstance(web, dict) else None
        if web is not None and (task.mode != "web" or not isinstance(onhold, bool)):
            raise rec_error(400, 2, "webRecordingConfig.onhold must be a boolean (web mode)")
        if urls is not None:
            for url, output in task.cdn_outputs.items():
                if url not in urls and output["status"] != "disconnected":
                    self._cdn_set(task, url, "disconnected")
            for url in urls:
                if (task.cdn_outputs.get(url) or {}).get("status") in (None, "disconnected"):
                    self._cdn_set(task, url, "connecting")
            task.cdn_current = list(urls)
        if isinstance(onhold, bool) and task.mode == "web":
            task.onhold = onhold
            for url in task.cdn_current:
                status = task.cdn_outputs[url]["status"]
                if onhold and status == "publishing":
                    self._cdn_set(task, url, "onhold")
                elif not onhold and status == "onhold":
                    self._cdn_set(task, url, "publishing")

    def _cdn_exit(self, task: Task) -> None:
        for url, output in task.cdn_outputs.items():
            if output["status"] != "disconnected":
                self._cdn_set(task, url, "disconnected")

    def _cdn_state(self, task: Task) -> list[dict[str, Any]]:
        """The ``rtmp_publish_service`` entry of a web task's ``extensionServiceState`` (query)."""
        if not task.cdn_current:
            return []
        state = "inProgress" if task.state == "running" else "exit"
        outputs = [{"rtmpUrl": url, "status": task.cdn_outputs[url]["status"]} for url in task.cdn_current]
        return [{"serviceName": SERVICE, "payload": {"outputs": outputs, "state": state}}]
