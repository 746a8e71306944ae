"""Postponed transcoding and postponed audio mixing (acquire ``scene: 2``), as Agora runs them.

``start`` on a scene-2 resource must be individual mode with ``appsCollection.combinationPolicy``
``"postpone_transcoding"`` and ``transcodeOptions`` (``transConfig.transMode`` ``postponeTranscoding`` or
``audioMix``; ``container.format`` mp4 for transcoding, mp3/m4a/aac for mixing; ``audio`` for mixing only);
anything else is code 2, and so are these fields on another scene.

After the task has exited and its HLS is uploaded, the result comes later (Agora: within 24 hours; here
``postpone_seconds`` emulated seconds, drawn between half and all of it): event 80 when the job starts, then
the files uploaded to the task's storage with Agora's names (``<sid>_<cname>__uid_s_<uid>__uid_e_<index>.mp4``
per uid, or ``<sid>_<cname>_<index>.<mp3|m4a|aac>`` for the mix) and, once they are all in the bucket, event 81
(per uid) and 1001 (the final list). All three go through the same NCS sender as every event: lost, repeated,
late or reordered.
"""

from __future__ import annotations

from typing import Any

from emulator import naming
from emulator.model import Task, rec_error
from emulator.segments import SegmentsMixin

TRANS_MODES = {"postponeTranscoding": ("mp4",), "audioMix": ("mp3", "m4a", "aac")}
AUDIO_FIELDS = {"sampleRate": ("48000", "32000", "16000"), "bitrate": ("48000",), "channels": ("1", "2")}
CONTENT_TYPES = {"mp4": "video/mp4", "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac"}


def validate_postponed(scene: int, mode: str, request: dict[str, Any], stream_types: Any) -> dict[str, Any] | None:
    """The postponed job a start asks for (``{"transMode", "format"}``), None for none, or code 2."""
    apps = request.get("appsCollection")
    options = request.get("transcodeOptions")
    policy = apps.get("combinationPolicy", "default") if isinstance(apps, dict) else None
    if apps is not None and policy not in ("default", "postpone_transcoding"):
        raise rec_error(400, 2, "appsCollection.combinationPolicy is invalid")
    if scene != 2:
        if policy == "postpone_transcoding" or options is not None:
            raise rec_error(400, 2, "postponed transcoding needs a resource acquired with scene 2")
        return None
    if mode != "individual":
        raise rec_error(400, 2, "scene 2 (postponed transcoding) is for individual mode only")
    if policy != "postpone_transcoding":
        raise rec_error(400, 2, 'scene 2 needs appsCollection.combinationPolicy "postpone_transcoding"')
    if not isinstance(options, dict) or not isinstance(options.get("transConfig"), dict):
        raise rec_error(400, 2, "scene 2 needs transcodeOptions.transConfig")
    trans_mode = options["transConfig"].get("transMode")
    if trans_mode not in TRANS_MODES:
        raise rec_error(400, 2, "transcodeOptions.transConfig.transMode is invalid")
    container = options.get("container", {"format": TRANS_MODES[trans_mode][0]})
    file_format = container.get("format") if isinstance(container, dict) else None
    if file_format not in TRANS_MODES[trans_mode]:
        raise rec_error(400, 2, f"transcodeOptions.container.format is invalid for {trans_mode}")
    _validate_audio(trans_mode, options.get("audio"))
    if trans_mode == "audioMix" and stream_types == 1:
        raise rec_error(400, 2, "audioMix needs audio: streamTypes must be 0 or 2")
    return {"transMode": trans_mode, "format": file_format}


def _validate_audio(trans_mode: str, audio: Any) -> None:
    if audio is None:
        return
    if trans_mode != "audioMix" or not isinstance(audio, dict):
        raise rec_error(400, 2, "transcodeOptions.audio is for audioMix only")
    for key, value in audio.items():
        if value not in AUDIO_FIELDS.get(key, ()):
            raise rec_error(400, 2, f"transcodeOptions.audio.{key} is invalid")


def fake_media(file_format: str, comment: str) -> bytes:
    """A recognisable container header (ISO BMFF ``ftyp`` for mp4/m4a, ID3 for mp3, ADTS for aac) and a comment,
    so that tests can check the type and that every file's bytes differ."""
    text = comment.encode()[:200]
    if file_format in ("mp4", "m4a"):
        brand = b"isom" if file_format == "mp4" else b"M4A "
        ftyp = b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"mp41"
        free = b"free" + text
        return len(ftyp + b"1234").to_bytes(4, "big") + ftyp + (len(free) + 4).to_bytes(4, "big") + free
    if file_format == "mp3":
        return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + text
    return b"\xff\xf1\x50\x80\x02\x1f\xfc" + text  # ADTS (AAC-LC, 48 kHz, stereo)


class PostponedMixin(SegmentsMixin):
    """Runs each scene-2 task's postponed job after the task has exited (hooks into ``tick``)."""

    #: emulated seconds between the recording's end and the result (Agora: up to 24 hours)
    postpone_seconds: float = 600.0

    def tick(self) -> None:
        super().tick()
        now = self.clock.now()
        for task in list(self.tasks.values()):
            if task.postponed is not None and task.postponed_phase < 3:
                self._postponed_step(task, now)

    def _postponed_step(self, task: Task, now: float) -> None:
        if task.state == "running" or not task.uploaded_event_sent:
            return  # the HLS it transcodes is not all in the bucket yet
        if task.postponed_due is None:
            task.postponed_due = now + self.postpone_seconds * self.rng.uniform(0.5, 1.0)
            return
        if task.postponed_phase == 0:  # the job starts at once; its result comes at ``postponed_due``
            task.postponed_phase = 1
            self._recording_event(task, 80, 0, {"msgName": "transcoder_started"})
            return
        if task.postponed_phase == 1 and now >= task.postponed_due:
            task.postponed_phase = 2
            self._postponed_upload(task)
            return
        if task.postponed_phase == 2 and (self.uploader is None or self.uploader.pending(task.sid) == 0):
            task.postponed_phase = 3  # the files are in the bucket: now Agora reports them
            self._postponed_report(task)

    def _postponed_upload(self, task: Task) -> None:
        assert task.postponed is not None
        file_format = task.postponed["format"]
        uids = sorted({s.uid for s in task.streams.values() if s.segments and s.uid != "0"}, key=int)
        if task.postponed["transMode"] == "audioMix":
            audio = [s for s in task.streams.values() if s.segments and s.track == "audio"]
            names = [f"{task.sid}_{naming.safe_cname(task.cname)}_0.{file_format}"] if audio else []
            per_uid = {uid: names for uid in uids if any(s.uid == uid for s in audio)}
        else:
            per_uid = {uid: [f"{naming.individual_base(task.sid, task.cname, uid, '0')}.mp4"] for uid in uids}
            names = [name for files in per_uid.values() for name in files]
        for name in names:
            self._upload(task, name, fake_media(file_format, f"{task.sid} {name}"), CONTENT_TYPES[file_format])
            task.postponed_files.append(naming.object_key(task.prefix, name))
        task.postponed_uids = per_uid

    def _postponed_report(self, task: Task) -> None:
        per_uid = task.postponed_uids
        ok = bool(task.postponed_files)
        self._recording_event(
            task,
            81,
            0,
            {
                "msgName": "transcoder_completed",
                "result": "all_success" if ok else "fail",
                "uids": [
                    {
                        "uid": uid,
                        "result": "success" if files else "fail",
                        "fileList": [{"fileName": naming.object_key(task.prefix, n)} for n in files],
                    }
                    for uid, files in per_uid.items()
                ],
            },
        )
        self._recording_event(
            task,
            1001,
            0,
            {
                "msgName": "postpone_transcode_final_result",
                "result": "total_success" if ok else "failed",
                "fileList": [{"fileName": key} for key in task.postponed_files],
            },
        )
