"""Cloud Recording REST: acquire, start, query, update, updateLayout and stop on resources and tasks."""

from __future__ import annotations

import base64
import json
import os
import uuid
from typing import Any

from emulator.base import WorldBase
from emulator.cdn import validate_extension_services
from emulator.model import (
    CNAME_RE,
    LEAVE_STOP,
    MAX_UID,
    PREFIX_RE,
    S3_REGION_NAMES,
    VENDORS,
    Resource,
    Task,
    gateway_error,
    now_real,
    rec_error,
)
from emulator.postponed import validate_postponed


class RecordingMixin(WorldBase):
    # ------------------------------------------------------------------ cloud recording REST

    def _validate_cname(self, cname: Any, *, web: bool) -> str:
        if not isinstance(cname, str) or not cname:
            raise rec_error(400, 2, "cname is required and must be a string")
        if web:
            if len(cname.encode()) > 1024:
                raise rec_error(400, 2, "cname is longer than 1024 bytes")
            return cname
        if len(cname.encode()) >= 64 or not CNAME_RE.match(cname):
            raise rec_error(400, 1013, "invalid channel name")
        return cname

    @staticmethod
    def _validate_uid(uid: Any) -> str:
        if not isinstance(uid, str):
            raise rec_error(400, 2, "uid must be a string")
        if not uid.isascii() or not uid.isdigit() or not 1 <= int(uid) <= MAX_UID or uid != str(int(uid)):
            raise rec_error(400, 2, "uid must be a string of an integer in 1..4294967295")
        return uid

    def acquire(self, body: dict[str, Any]) -> dict[str, Any]:
        request = body.get("clientRequest", {})
        if not isinstance(request, dict):
            raise rec_error(400, 2, "clientRequest must be an object")
        scene = request.get("scene", 0)
        if scene not in (0, 1, 2) or isinstance(scene, bool):
            raise rec_error(400, 2, "Acquire: invalid scene value!")
        uid = self._validate_uid(body.get("uid"))
        cname = self._validate_cname(body.get("cname"), web=scene == 1)
        self.check_capacity()
        hours = request.get("resourceExpiredHour", 72)
        if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 720:
            raise rec_error(400, 2, "Acquire: invalid resourceExpiredHour value!")
        if "region" in request and request["region"] not in ("CN", "AP", "EU", "NA"):
            raise rec_error(400, 2, "Acquire: invalid region value!")
        excluded = request.get("excludeResourceIds", [])
        if not isinstance(excluded, list) or not all(isinstance(r, str) for r in excluded):
            raise rec_error(400, 2, "Acquire: excludeResourceIds must be a list of resource IDs")
        if "startParameter" in request and not isinstance(request["startParameter"], dict):
            raise rec_error(400, 2, "Acquire: startParameter must be an object")
        rid = base64.urlsafe_b64encode(os.urandom(96)).decode().rstrip("=")
        self.resources[rid] = Resource(
            id=rid, cname=cname, uid=uid, scene=scene, expired_hour=hours, created_real=now_real()
        )
        return {"cname": cname, "uid": uid, "resourceId": rid}

    def _validate_storage(self, storage: Any) -> dict[str, Any]:
        if not isinstance(storage, dict):
            raise rec_error(400, 2, "storageConfig is required")
        vendor = storage.get("vendor")
        if vendor not in VENDORS or isinstance(vendor, bool):
            raise rec_error(400, 2, "storageConfig.vendor is invalid")
        region = storage.get("region")
        if isinstance(region, bool) or not isinstance(region, int):
            raise rec_error(400, 2, "storageConfig.region must be a number")
        if vendor == 1 and region not in S3_REGION_NAMES:
            raise rec_error(400, 2, "storageConfig.region is not an Amazon S3 region number")
        for key in ("bucket", "accessKey", "secretKey"):
            if not isinstance(storage.get(key), str) or not storage[key]:
                raise rec_error(400, 2, f"storageConfig.{key} is required")
        prefix = storage.get("fileNamePrefix", [])
        if not isinstance(prefix, list) or not all(isinstance(p, str) and PREFIX_RE.match(p) for p in prefix):
            raise rec_error(400, 2, "storageConfig.fileNamePrefix is invalid")
        if len("/".join(prefix)) > 128:
            raise rec_error(400, 2, "storageConfig.fileNamePrefix is longer than 128 characters")
        return storage

    def start(self, resource_id: str, mode: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if mode not in ("individual", "raw", "mix", "web"):
            raise gateway_error(404, "no Route matched with those values")
        resource = self.resources.get(resource_id)
        if resource is None:
            raise rec_error(400, 1001, "failed to parse resource id")
        if resource.sid is not None:
            return self._already_started(resource)
        if now_real() - resource.created_real > self.resource_ttl:
            raise rec_error(400, 433, "resource expired")
        web = mode == "web"
        uid = self._validate_uid(body.get("uid"))
        cname = self._validate_cname(body.get("cname"), web=web)
        if cname != resource.cname or uid != resource.uid or (resource.scene == 1) != web:
            raise rec_error(400, 432, "the cname, uid or mode do not match the resource id")
        request = body.get("clientRequest")
        if not isinstance(request, dict):
            raise rec_error(400, 2, "clientRequest is required")
        storage = self._validate_storage(request.get("storageConfig"))
        config = request.get("recordingConfig") or {}
        if not isinstance(config, dict):
            raise rec_error(400, 2, "recordingConfig must be an object")
        settings = self._validate_config(mode, request, config)
        settings["postponed"] = validate_postponed(resource.scene, mode, request, settings["stream_types"])
        cdn_urls = validate_extension_services(mode, request)
        for task in self.tasks.values():
            if task.state != "exited" and task.cname == cname and task.uid == uid:
                raise rec_error(400, 53, "a task with the same cname and uid already exists")
        self.check_capacity()
        sid = uuid.uuid4().hex
        now = self.clock.now()
        task = Task(
            sid=sid,
            resource_id=resource_id,
            cname=cname,
            uid=uid,
            mode=mode,
            client_request=request,
            started_at=now,
            started_real=now_real(),
            prefix=list(storage.get("fileNamePrefix") or []),
            storage=storage,
            expired_hour=resource.expired_hour,
            last_active=now,
            last_progress=now,
            **settings,
        )
        resource.sid = sid
        self.tasks[sid] = task
        self._history_start(task)
        if web:
            self._recording_event(
                task, 70, 6, {"msgName": "web_recorder_started", "recorderStartTime": self.clock.epoch_ms()}
            )
            task.cdn_current = list(cdn_urls)
            self._cdn_start(task, cdn_urls)
        else:
            profile = "live" if config.get("channelType", 0) == 1 else "communication"
            self.join(cname, int(uid), role="host", platform=6, client_type=10, bot=True, profile=profile)
            self._recording_event(task, 40, 1, {"msgName": "recorder_started", "status": 0})
        self._recording_event(task, 30, 2, {"msgName": "uploader_started", "status": 0})
        return 200, {"cname": cname, "uid": uid, "resourceId": resource_id, "sid": sid}

    def _already_started(self, resource: Resource) -> tuple[int, dict[str, Any]]:
        """A second start on a resource: 201/7 without a sid (and event 3 on the running task)."""
        task = self.tasks.get(resource.sid or "")
        if task is not None:
            self._recording_event(
                task,
                3,
                0,
                {
                    "msgName": "cloud_recording_status_update",
                    "status": task.status,
                    "recordingMode": 0 if task.mode in ("individual", "raw") else 1,
                    "fileList": "",
                },
            )
        return 201, {
            "cname": resource.cname,
            "uid": resource.uid,
            "resourceId": resource.id,
            "code": 7,
            "reason": "The recording has already been started",
        }

    @staticmethod
    def _validate_config(mode: str, request: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """The task settings from a start request's recordingConfig and extension services (or code 2)."""
        web = mode == "web"
        max_idle = config.get("maxIdleTime", 30)
        if isinstance(max_idle, bool) or not isinstance(max_idle, int) or not 5 <= max_idle <= 2_592_000:
            raise rec_error(400, 2, "recordingConfig.maxIdleTime is out of range")
        stream_types = config.get("streamTypes", 2)
        if stream_types not in (0, 1, 2):
            raise rec_error(400, 2, "recordingConfig.streamTypes is invalid")
        for kind in ("Audio", "Video"):
            if f"subscribe{kind}Uids" in config and f"unsubscribe{kind}Uids" in config:
                raise rec_error(400, 2, f"set subscribe{kind}Uids or unsubscribe{kind}Uids, not both")
        if mode == "raw" and ("streamMode" in config or "extensionServiceConfig" in request):
            raise rec_error(400, 2, "raw mode accepts neither streamMode nor extensionServiceConfig")
        if web and not isinstance(request.get("extensionServiceConfig"), dict):
            raise rec_error(400, 2, "extensionServiceConfig is required in web mode")
        snapshot = request.get("snapshotConfig")
        _validate_snapshot(mode, snapshot, config, stream_types)
        file_config = request.get("recordingFileConfig") or {}
        av_types = file_config.get("avFileType", ["hls"]) if isinstance(file_config, dict) else None
        if (
            not isinstance(av_types, list)
            or not av_types
            or not set(av_types) <= {"hls", "mp4"}
            or ("hls" not in av_types)
        ):
            raise rec_error(400, 2, "recordingFileConfig.avFileType is invalid")
        max_recording_hour = None
        if web:
            for service in request["extensionServiceConfig"].get("extensionServices") or []:
                hour = (service.get("serviceParam") or {}).get("maxRecordingHour")
                if isinstance(hour, int):
                    max_recording_hour = hour
        private = config.get("privateParams")
        correct = False
        if isinstance(private, str):
            try:
                correct = bool(json.loads(private).get("correctEXTINF"))
            except (ValueError, AttributeError):
                correct = False
        return {
            "max_idle": max_idle,
            "stream_types": stream_types,
            "av_types": list(av_types),
            "correct_extinf": correct,
            "max_recording_hour": max_recording_hour,
            "snapshot_interval": snapshot.get("captureInterval", 10) if snapshot is not None else None,
            # screenshots only unless recordingFileConfig asks for a recording too (the screen-capture page)
            "records_media": snapshot is None or "recordingFileConfig" in request,
        }

    def _task_for(self, resource_id: str, sid: str, mode: str, *, stopping: bool = False) -> Task:
        task = self.tasks.get(sid)
        if task is None or task.resource_id != resource_id or task.mode != mode:
            if resource_id not in self.resources:
                raise rec_error(400, 1001, "failed to parse resource id")
            raise rec_error(404, 404, "failed to find worker")
        if task.state == "exiting":
            raise rec_error(400, 49, "the recording task is exiting")
        if task.state == "exited":
            raise rec_error(404, 404, "failed to find worker")
        if self.clock.now() - task.started_at > task.expired_hour * 3600:
            raise rec_error(404, 404, "failed to find worker")
        return task

    def _check_body(self, task: Task, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("cname") != task.cname or body.get("uid") != task.uid:
            raise rec_error(400, 2, "cname or uid does not match the task")
        request = body.get("clientRequest", {})
        if not isinstance(request, dict):
            raise rec_error(400, 2, "clientRequest must be an object")
        return request

    def query(self, resource_id: str, sid: str, mode: str) -> dict[str, Any]:
        task = self._task_for(resource_id, sid, mode)
        server = {"status": task.status, **self._files_response(task)}
        return {"cname": task.cname, "uid": task.uid, "resourceId": resource_id, "sid": sid, "serverResponse": server}

    def update(self, resource_id: str, sid: str, mode: str, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task_for(resource_id, sid, mode)
        request = self._check_body(task, body)
        self._cdn_update(task, request)
        subscribe = request.get("streamSubscribe")
        if isinstance(subscribe, dict):
            config = task.client_request.setdefault("recordingConfig", {})
            for group, kind in (("audioUidList", "Audio"), ("videoUidList", "Video")):
                lists = subscribe.get(group)
                if isinstance(lists, dict):
                    config.pop(f"subscribe{kind}Uids", None)
                    config.pop(f"unsubscribe{kind}Uids", None)
                    for key in (f"subscribe{kind}Uids", f"unsubscribe{kind}Uids"):
                        if key in lists:
                            config[key] = list(lists[key])
        if "storageConfig" in request:
            task.storage = self._validate_storage(request["storageConfig"])
        return {"cname": task.cname, "uid": task.uid, "resourceId": resource_id, "sid": sid}

    def update_layout(self, resource_id: str, sid: str, mode: str, body: dict[str, Any]) -> dict[str, Any]:
        if mode != "mix":
            raise rec_error(400, 2, "updateLayout applies to mix mode only")
        task = self._task_for(resource_id, sid, mode)
        request = self._check_body(task, body)
        layout = request.get("mixedVideoLayout", 0)
        if layout not in (0, 1, 2, 3):
            raise rec_error(400, 1028, "invalid updateLayout body")
        task.layout = dict(request)
        return {"cname": task.cname, "uid": task.uid, "resourceId": resource_id, "sid": sid}

    def stop(self, resource_id: str, sid: str, mode: str, body: dict[str, Any]) -> Task:
        task = self._task_for(resource_id, sid, mode, stopping=True)
        self._check_body(task, body)
        self._exit(task, LEAVE_STOP)
        return task

    def stop_response(self, task: Task) -> tuple[int, dict[str, Any]]:
        base = {"cname": task.cname, "uid": task.uid, "resourceId": task.resource_id, "sid": task.sid}
        if not task.produced():
            return 206, {
                **base,
                "code": 435,
                "reason": "no recorded data",
                "serverResponse": {"fileListMode": "string", "fileList": "", "uploadingStatus": "uploaded"},
            }
        failed = self.uploader.failed(task.sid) if self.uploader else 0
        uploading = "backuped" if failed else "uploaded"
        server: dict[str, Any]
        if task.mode == "web":
            files = self._web_files(task)
            server = {
                "extensionServiceState": [
                    {"payload": {"uploadingStatus": uploading}, "serviceName": "upload_service"},
                    {
                        "payload": {"fileList": files, "onhold": False, "state": "exit"},
                        "serviceName": "web_recorder_service",
                    },
                ]
            }
        else:
            server = {**self._files_response(task), "uploadingStatus": uploading}
        return 200, {**base, "serverResponse": server}


def _validate_snapshot(mode: str, snapshot: Any, config: dict[str, Any], stream_types: Any) -> None:
    """start's ``snapshotConfig`` (screenshots): individual/raw mode, captureInterval [5,3600], jpg, with video;
    ``subscribeAudioUids`` only together with ``subscribeVideoUids`` (the screen-capture page)."""
    if snapshot is None:
        return
    interval = snapshot.get("captureInterval", 10) if isinstance(snapshot, dict) else None
    if mode not in ("individual", "raw"):
        raise rec_error(400, 2, "snapshotConfig is for individual mode only")
    if isinstance(interval, bool) or not isinstance(interval, int) or not 5 <= interval <= 3600:
        raise rec_error(400, 2, "snapshotConfig.captureInterval is out of range")
    if snapshot.get("fileType", ["jpg"]) != ["jpg"]:
        raise rec_error(400, 2, 'snapshotConfig.fileType must be ["jpg"]')
    if stream_types == 0:
        raise rec_error(400, 2, "screenshots need video: streamTypes must be 1 or 2")
    if "subscribeAudioUids" in config and "subscribeVideoUids" not in config:
        raise rec_error(400, 2, "screenshots: set subscribeVideoUids when subscribeAudioUids is set")
