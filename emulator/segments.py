"""The recording simulation: HLS segments per subscribed track, m3u8 playlists, uploads, file lists, exit."""

from __future__ import annotations

import math
from typing import Any

from emulator import naming
from emulator.base import WorldBase
from emulator.model import ALL, LEAVE_IDLE, LEAVE_STOP, S3_REGION_NAMES, Segment, Stream, Task, now_real
from emulator.uploader import Upload

#: a tick that comes late (a loaded machine, a large ``time_scale``) takes at most this many screenshots per uid
MAX_CAPTURES_PER_TICK = 20


class SegmentsMixin(WorldBase):
    # ------------------------------------------------------------------ file lists

    def _file_entries(self, task: Task, *, ms: bool) -> list[dict[str, Any]]:
        entries = []
        for stream in task.streams.values():
            if not stream.segments:
                continue
            start = stream.first_ms or 0
            entries.append(
                {
                    "fileName": naming.object_key(task.prefix, stream.name),
                    "trackType": stream.track,
                    "uid": stream.uid,
                    "mixedAllUser": stream.uid == "0",
                    "isPlayable": True,
                    "sliceStartTime": start if ms else start // 1000,
                }
            )
        return entries

    def _web_files(self, task: Task) -> list[dict[str, Any]]:
        return [
            {"filename": e["fileName"], "sliceStartTime": e["sliceStartTime"]}
            for e in self._file_entries(task, ms=True)
        ]

    def _files_response(self, task: Task) -> dict[str, Any]:
        if task.mode == "web":
            state = "inProgress" if task.state == "running" else "exit"
            return {
                "extensionServiceState": [
                    {
                        "serviceName": "web_recorder_service",
                        "payload": {"fileList": self._web_files(task), "onhold": task.onhold, "state": state},
                    },
                    *self._cdn_state(task),
                ]
            }
        entries = self._file_entries(task, ms=False)
        if task.mode == "mix" and task.av_types == ["hls"]:
            return {"fileListMode": "string", "fileList": entries[0]["fileName"] if entries else ""}
        out: dict[str, Any] = {"fileListMode": "json", "fileList": entries}
        if task.mode in ("individual", "raw"):
            starts = [s.first_ms for s in task.streams.values() if s.first_ms]
            out["sliceStartTime"] = min(starts) if starts else 0
        return out

    # ------------------------------------------------------------------ the simulation

    def _subscribed(self, task: Task, uid: int, track: str) -> bool:
        config = task.client_request.get("recordingConfig") or {}
        kind = "Audio" if track == "audio" else "Video"
        other = "Video" if kind == "Audio" else "Audio"
        sub = config.get(f"subscribe{kind}Uids")
        unsub = config.get(f"unsubscribe{kind}Uids")
        if sub is not None:
            return ALL in sub or str(uid) in [str(x) for x in sub]
        if unsub is not None:
            return str(uid) not in [str(x) for x in unsub]
        # A list for one media type only means nothing of the other type is recorded.
        return not (f"subscribe{other}Uids" in config or f"unsubscribe{other}Uids" in config)

    def _wanted_tracks(self, task: Task) -> set[tuple[int, str]]:
        """(uid, track) pairs that are being published and recorded right now."""
        channel = self.channels.get(task.cname)
        if channel is None:
            return set()
        tracks = {0: ["audio"], 1: ["video"], 2: ["audio", "video"]}[task.stream_types]
        wanted = set()
        for user in channel.users.values():
            if not user.publishes() or str(user.uid) == task.uid:
                continue
            for track in tracks:
                if self._banned(task.cname, user.uid, user.ip, f"publish_{track}"):
                    continue
                if self._subscribed(task, user.uid, track):
                    wanted.add((user.uid, track))
        return wanted

    def _has_publishers(self, task: Task) -> bool:
        channel = self.channels.get(task.cname)
        return channel is not None and any(u.publishes() for u in channel.users.values())

    def _stream(self, task: Task, key: str, uid: str, track: str) -> Stream:
        stream = task.streams.get(key)
        if stream is None:
            if task.mode in ("individual", "raw"):
                name = naming.individual_m3u8(task.sid, task.cname, uid, track)
            else:
                name = naming.mix_m3u8(task.sid, task.cname)
            stream = Stream(name=name, uid=uid, track=track, target=self._target())
            task.streams[key] = stream
        return stream

    def _target(self) -> float:
        return round(self.segment_seconds + self.rng.uniform(0.0, 0.12), 3)

    def tick(self) -> None:
        self._close_empty_channels()
        now = self.clock.now()
        for task in list(self.tasks.values()):
            if task.state == "running":
                self._advance(task, now)
            elif task.state == "exiting":
                self._finish_exit(task)

    def _advance(self, task: Task, now: float) -> None:
        elapsed = now - task.started_at
        task.status = 1 if elapsed < 0.5 else 4 if elapsed < 1.5 else 5
        active = self._active_streams(task)
        self._capture(task, now)
        if not task.records_media:  # a screenshots-only task writes no HLS
            active = {}
        for key, (stream_uid, stream_track) in active.items():
            stream = self._stream(task, key, stream_uid, stream_track)
            if stream.open_at is None:
                self._open(task, stream, now)
            while now - stream.open_at >= stream.target:  # type: ignore[operator]
                self._close_segment(task, stream, stream.target)
        for key, stream in task.streams.items():
            if key not in active and stream.open_at is not None:
                self._close_partial(task, stream, now)
        self._upload_dirty(task)
        if task.mode == "web":
            self._cdn_tick(task, now)
            if task.max_recording_hour and now - task.started_at >= task.max_recording_hour * 3600:
                self._exit(task, LEAVE_STOP)
            return
        if self._has_publishers(task):
            task.last_active = now
        elif now - task.last_active >= task.max_idle:
            self._exit(task, LEAVE_IDLE)
            return
        if task.recorded() and now - task.last_progress >= 60:
            task.last_progress = now
            self._recording_event(task, 33, 2, {"msgName": "uploading_progress", "progress": 10000})

    def _active_streams(self, task: Task) -> dict[str, tuple[str, str]]:
        """Stream key -> (uid, track) being recorded now; events 43/44 for tracks that came or went."""
        if task.mode == "web":
            return {"mix": ("0", "audio_and_video")}
        wanted = self._wanted_tracks(task)
        changes = [(pair, 0) for pair in sorted(wanted - task.active_tracks)]
        changes += [(pair, 1) for pair in sorted(task.active_tracks - wanted)]
        for (uid, track), state in changes:
            self._recording_event(
                task,
                43 if track == "audio" else 44,
                1,
                {
                    "msgName": f"recorder_{track}_stream_state_changed",
                    "streamUid": str(uid),
                    "state": state,
                    "UtcMs": self.clock.epoch_ms(),
                },
            )
        task.active_tracks = wanted
        if task.mode in ("individual", "raw"):
            return {f"{uid}:{track}": (str(uid), track) for uid, track in wanted}
        return {"mix": ("0", "audio_and_video")} if wanted else {}

    def _capture(self, task: Task, now: float) -> None:
        """Screenshots (``snapshotConfig``): one JPG per video uid being received, at once and then every
        ``captureInterval``; capturing pauses while a uid sends no video (and restarts at once when it
        returns). Each file is uploaded and reported with event 45, which NCS may lose or repeat."""
        if task.snapshot_interval is None:
            return
        receiving = {str(uid) for uid, track in task.active_tracks if track == "video"}
        for uid in [u for u in task.next_capture if u not in receiving]:
            del task.next_capture[uid]
        for uid in sorted(receiving):
            due = task.next_capture.get(uid, now)
            taken = 0
            while due <= now and taken < MAX_CAPTURES_PER_TICK:
                self._screenshot(task, uid, due)
                due += task.snapshot_interval
                taken += 1
            task.next_capture[uid] = max(due, now) if taken == MAX_CAPTURES_PER_TICK else due

    def _screenshot(self, task: Task, uid: str, at: float) -> None:
        epoch_ms = self.clock.epoch_ms(at)
        name = naming.snapshot_jpg(task.sid, task.cname, uid, epoch_ms)
        key = naming.object_key(task.prefix, name)
        task.snapshots.append(key)
        self._upload(task, name, naming.fake_jpg(f"{task.sid} uid {uid} at {epoch_ms}"), "image/jpeg")
        self._recording_event(task, 45, 1, {"msgName": "recorder_snapshot_file", "fileName": key})

    def _open(self, task: Task, stream: Stream, now: float) -> None:
        stream.open_at = now
        start_ms = self.clock.epoch_ms(now)
        if stream.segments:
            stream.pending_tags.append("#EXT-X-DISCONTINUITY")
        if task.mode in ("individual", "raw"):
            stream.pending_tags.append(
                f"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE={stream.track.upper()},TIME={start_ms}"
            )
        self._recording_event(
            task,
            42,
            1,
            {
                "msgName": "recorder_slice_start",
                "startUtcMs": start_ms,
                "discontinueUtcMs": stream.last_close_ms,
                "mixedAllUser": stream.uid == "0",
                "streamUid": stream.uid,
                "trackType": stream.track,
            },
        )

    def _close_segment(self, task: Task, stream: Stream, duration: float) -> None:
        assert stream.open_at is not None
        start_ms = self.clock.epoch_ms(stream.open_at)
        if task.mode in ("individual", "raw"):
            name = naming.individual_ts(task.sid, task.cname, stream.uid, stream.track, start_ms)
        else:
            name = naming.mix_ts(task.sid, task.cname, start_ms)
        stream.segments.append(
            Segment(name=name, duration=round(duration, 6), epoch_ms=start_ms, tags=stream.pending_tags)
        )
        stream.pending_tags = []
        if stream.first_ms is None:
            stream.first_ms = start_ms
        offset = (start_ms - stream.first_ms) / 1000  # the segment's media timestamps continue the previous one's
        stream.open_at += duration
        stream.last_close_ms = self.clock.epoch_ms(stream.open_at)
        stream.target = self._target()
        stream.dirty = True
        self._upload(task, name, naming.fake_ts(duration, offset), "video/mp2t")

    def _close_partial(self, task: Task, stream: Stream, now: float) -> None:
        assert stream.open_at is not None
        duration = round(now - stream.open_at, 3)
        if duration >= 0.5:
            self._close_segment(task, stream, duration)
        stream.open_at = None
        stream.last_close_ms = self.clock.epoch_ms(now)

    def render_m3u8(self, task: Task, stream: Stream, *, ended: bool) -> str:
        longest = max((s.duration for s in stream.segments), default=self.segment_seconds)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-ALLOW-CACHE:YES",
            f"#EXT-X-TARGETDURATION:{math.ceil(longest)}",
        ]
        comma = "," if task.correct_extinf else ""
        for segment in stream.segments:
            lines.extend(segment.tags)
            lines.append(f"#EXTINF:{segment.duration:.6f}{comma}")
            lines.append(segment.name)
        if ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def _upload_dirty(self, task: Task, *, ended: bool = False) -> None:
        for stream in task.streams.values():
            if not stream.segments or not (stream.dirty or ended):
                continue
            stream.dirty = False
            body = self.render_m3u8(task, stream, ended=ended).encode()
            self._upload(task, stream.name, body, "application/vnd.apple.mpegurl")
            if not stream.announced:
                stream.announced = True
                self._recording_event(
                    task,
                    4,
                    0,
                    {"msgName": "cloud_recording_file_infos", "fileList": naming.object_key(task.prefix, stream.name)},
                )

    def _upload(self, task: Task, name: str, body: bytes, content_type: str) -> None:
        if self.uploader is None or not self.s3_bucket:
            return
        region = (
            S3_REGION_NAMES.get(task.storage.get("region", 0), "us-east-1")
            if task.storage.get("vendor") == 1
            else "us-east-1"
        )
        self.uploader.put(
            Upload(
                task=task.sid,
                bucket=self.s3_bucket,
                key=naming.object_key(task.prefix, name),
                body=body,
                content_type=content_type,
                access_key=task.storage.get("accessKey", ""),
                secret_key=task.storage.get("secretKey", ""),
                region=region,
            )
        )

    def _exit(self, task: Task, leave_code: int, *, exit_status: int = 0, bot_leaves: bool = True) -> None:
        now = self.clock.now()
        for stream in task.streams.values():
            if stream.open_at is not None:
                self._close_partial(task, stream, now)
        self._upload_dirty(task, ended=True)
        task.state = "exiting"
        task.status = 7
        task.leave_code = leave_code
        task.exit_status = exit_status
        task.ended_at = now
        self._history_end(task)
        task.exit_real = now_real() + self.exit_seconds / self.clock.scale
        if task.mode == "web":
            self._cdn_exit(task)
            self._recording_event(
                task,
                71,
                6,
                {
                    "msgName": "web_recorder_stopped",
                    "code": 0,
                    "message": "ok",
                    "details": {},
                    "fileList": self._web_files(task),
                },
            )
        else:
            self._recording_event(task, 41, 1, {"msgName": "recorder_leave", "leaveCode": leave_code})
            if bot_leaves:
                channel = self.channels.get(task.cname)
                bot = channel.users.get(int(task.uid)) if channel else None
                if channel is not None and bot is not None and bot.bot:
                    self._leave(channel, bot, reason=1)
        self._recording_event(task, 11, 0, {"msgName": "session_exit", "exitStatus": exit_status})
        self._finish_exit(task)

    def _finish_exit(self, task: Task) -> None:
        if not task.uploaded_event_sent:
            pending_done = self.uploader is None or self.uploader.pending(task.sid) == 0
            if pending_done:
                task.uploaded_event_sent = True
                if task.produced():  # a screenshots-only task reports an empty fileList (read names from 45)
                    failed = self.uploader.failed(task.sid) if self.uploader else 0
                    event, msg = (32, "backuped") if failed else (31, "uploaded")
                    files = self._file_entries(task, ms=True)
                    details: dict[str, Any] = {"msgName": msg, "status": 0}
                    if task.mode != "web":
                        details["fileList"] = files
                    self._recording_event(task, event, 2, details)
        if task.uploaded_event_sent and task.exit_real is not None and now_real() >= task.exit_real:
            task.state = "exited"
            task.status = 8
