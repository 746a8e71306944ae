"""Request bodies of the recordings API, validated before anything reaches Agora.

Our own fields are snake_case (``channel``, ``mode``, ``recording_config``); objects that are passed to
Agora keep Agora's field names (``maxIdleTime``, ``transcodingConfig``, ``streamSubscribe``, ...), so the
Agora documentation applies to them word for word. Unknown fields are rejected (422), never ignored.

Over 400 lines on purpose: every request and response body of the recordings API in one module, so the
OpenAPI document and the validation rules are read in one place.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from agorakit.addresses import MAX_RTMP_URL, RTMP_URL_PATTERN, check_rtmp_url
from agorakit.ids import MAX_UID
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from service.recordings.postponed_models import PostponedOptions, PostponedView
from service.recordings.postponed_rules import check_request
from service.transcriptions.models import CaptionTrack, TranscriptFile, TranscriptionOptions

#: a uid as Agora's subscribe lists want it: digits (1..2^32-1) or "#allstream#"
UidOrAll = Annotated[str, StringConstraints(pattern=r"^(#allstream#|[1-9][0-9]{0,9})$")]
Uid = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,9}$")]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
#: an https URL without spaces or control characters; the class is spelled out (no ``\s``) because Python's and
#: ECMAScript's ``\s`` differ (Python's has U+001C..U+001F and U+0085, ECMAScript's U+FEFF): the document and
#: the server must read the same pattern the same way
_NO_SPACE_OR_CONTROL = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
HttpsUrl = Annotated[str, StringConstraints(pattern=rf"^https://{_NO_SPACE_OR_CONTROL}+$", max_length=1024)]
UidList = Annotated[list[UidOrAll], Field(min_length=1, max_length=32)]
#: a CDN ingest address for web recording's CDN push: RTMP or RTMPS, a valid host and port, then the app/stream
#: path (``agorakit.addresses.check_rtmp_url`` is the rule, with a precise message; the document states its outline)
RtmpUrl = Annotated[
    str,
    AfterValidator(check_rtmp_url),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": RTMP_URL_PATTERN,
            "maxLength": MAX_RTMP_URL,
            "description": (
                "rtmp:// or rtmps://, a host name (RFC 1123 labels), an IPv4 literal or a bracketed IPv6 literal, "
                "an optional port 1..65535, then the app/stream path; printable ASCII only, at most "
                f"{MAX_RTMP_URL} characters"
            ),
        }
    ),
]
#: Agora pushes a web recording to at most this many CDN addresses (``rtmpPublishConfig``: "at most one output")
MAX_CDN_OUTPUTS = 1
Unit = Annotated[float, Field(ge=0, le=1)]

MAX_PIXELS = 1920 * 1080


class _Strict(BaseModel):
    """Unknown fields are refused and nothing is coerced: ``"1"`` is not a number, ``0`` not a boolean, and
    ``false`` not the layout 0 (pydantic's Literal[0] accepts False even in strict mode: refused here)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if "bool" not in repr(annotation):
                raise ValueError("a boolean is not accepted here")
        return value


def _check_uids(values: list[str] | None) -> list[str] | None:
    if values is not None:
        for value in values:
            if value != "#allstream#" and int(value) > MAX_UID:
                raise ValueError(f"uid {value} is larger than 2^32-1")
    return values


class LayoutRegion(_Strict):
    """One window of a custom mix layout (``mixedVideoLayout`` 3); coordinates are fractions of the canvas."""

    uid: Uid | None = None
    x_axis: Unit
    y_axis: Unit
    width: Unit
    height: Unit
    alpha: float | None = Field(default=None, gt=0, le=1)
    render_mode: Literal[0, 1] | None = None


class BackgroundImage(_Strict):
    uid: Uid
    image_url: HttpsUrl
    render_mode: Literal[0, 1] | None = None


class LayoutFields(_Strict):
    """The fields ``updateLayout`` and ``transcodingConfig`` share."""

    mixedVideoLayout: Literal[0, 1, 2, 3] | None = None
    maxResolutionUid: Uid | None = None
    backgroundColor: Color | None = None
    backgroundImage: HttpsUrl | None = None
    defaultUserBackgroundImage: HttpsUrl | None = None
    layoutConfig: list[LayoutRegion] | None = Field(default=None, max_length=17)
    backgroundConfig: list[BackgroundImage] | None = Field(default=None, max_length=17)

    @model_validator(mode="after")
    def _layout_needs(self) -> Self:
        if self.mixedVideoLayout == 3 and not self.layoutConfig:
            raise ValueError("mixedVideoLayout 3 (custom) needs layoutConfig")
        if self.mixedVideoLayout == 2 and not self.maxResolutionUid:
            raise ValueError("mixedVideoLayout 2 (vertical) needs maxResolutionUid")
        return self


class TranscodingConfig(LayoutFields):
    width: int | None = Field(default=None, ge=16, le=1920)
    height: int | None = Field(default=None, ge=16, le=1920)
    fps: int | None = Field(default=None, ge=1, le=30)
    bitrate: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _canvas(self) -> Self:
        width, height = self.width or 360, self.height or 640
        if width * height > MAX_PIXELS:
            raise ValueError("width x height must be at most 1920 x 1080 pixels")
        return self


class RecordingConfigOverrides(_Strict):
    """The parts of Agora's ``recordingConfig`` a caller may set (the rest is the service's policy)."""

    channelType: Literal[0, 1] | None = None
    maxIdleTime: int | None = Field(default=None, ge=5, le=2_592_000)
    streamTypes: Literal[0, 1, 2] | None = None
    videoStreamType: Literal[0, 1] | None = None
    subscribeAudioUids: UidList | None = None
    unsubscribeAudioUids: UidList | None = None
    subscribeVideoUids: UidList | None = None
    unsubscribeVideoUids: UidList | None = None
    subscribeUidGroup: int | None = Field(default=None, ge=0, le=5)
    streamMode: Literal["default", "standard", "original"] | None = None
    audioProfile: Literal[0, 1, 2] | None = None
    transcodingConfig: TranscodingConfig | None = None

    _uids = field_validator("subscribeAudioUids", "unsubscribeAudioUids", "subscribeVideoUids", "unsubscribeVideoUids")(
        _check_uids
    )

    @model_validator(mode="after")
    def _one_list_per_kind(self) -> Self:
        for kind in ("Audio", "Video"):
            if getattr(self, f"subscribe{kind}Uids") and getattr(self, f"unsubscribe{kind}Uids"):
                raise ValueError(f"set subscribe{kind}Uids or unsubscribe{kind}Uids, not both")
        if self.streamMode == "original" and self.streamTypes not in (None, 0):
            raise ValueError('streamMode "original" records audio only: streamTypes must be 0')
        return self


class RecordingFileConfig(_Strict):
    avFileType: list[Literal["hls", "mp4"]] = Field(min_length=1, max_length=2)

    @field_validator("avFileType")
    @classmethod
    def _hls_first(cls, value: list[str]) -> list[str]:
        if "hls" not in value:
            raise ValueError('avFileType must include "hls" (["mp4"] alone is rejected by Agora)')
        if len(set(value)) != len(value):
            raise ValueError("avFileType has duplicates")
        return value


class WebRecordingConfig(_Strict):
    """Web page recording (``mode: "web"``): Agora renders ``url`` in a headless browser."""

    url: HttpsUrl
    audioProfile: Literal[0, 1, 2] = 0
    videoWidth: int = Field(default=1280, ge=16, le=1920)
    videoHeight: int = Field(default=720, ge=16, le=1920)
    videoBitrate: int | None = Field(default=None, ge=1, le=10_000)
    videoFps: int | None = Field(default=None, ge=5, le=60)
    mobile: bool | None = None
    maxVideoDuration: int | None = Field(default=None, ge=30, le=240)
    onhold: bool | None = None
    readyTimeout: int | None = Field(default=None, ge=0, le=60)

    @model_validator(mode="after")
    def _canvas(self) -> Self:
        if self.videoWidth * self.videoHeight > MAX_PIXELS:
            raise ValueError("videoWidth x videoHeight must be at most 1920 x 1080 pixels")
        return self


class CdnPush(_Strict):
    """CDN push of a web page recording (Agora's ``rtmp_publish_service``, next to ``web_recorder_service``).

    Agora accepts RTMP or RTMPS addresses, at most ``MAX_CDN_OUTPUTS`` of them; the push keeps being billed
    until the task stops. NCS event 100 reports each address's state (``GET /recordings/{id}`` ``cdn``)."""

    outputs: list[RtmpUrl] = Field(
        min_length=1,
        max_length=MAX_CDN_OUTPUTS,
        description="rtmp:// or rtmps:// ingest URLs (Agora takes one)",
    )

    @field_validator("outputs")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("outputs has duplicates")
        return value


class SnapshotConfig(_Strict):
    """Screenshots (individual/raw mode only): a JPG per subscribed video stream every ``captureInterval`` s.

    Without ``recording_file_config`` the task takes screenshots only; with it, it records and captures
    (only the recording is billed). Agora reports each file with NCS event 45."""

    captureInterval: int = Field(default=10, ge=5, le=3600)  # the start reference's range (the strictest)
    fileType: list[Literal["jpg"]] = Field(default=["jpg"], min_length=1, max_length=1)


class AcquireOptions(_Strict):
    """How Agora allocates the recorder (acquire's ``clientRequest``)."""

    region: Literal["CN", "AP", "EU", "NA"] | None = Field(
        default=None, description="geofencing: the recorder runs in this area only"
    )
    start_parameter: bool = Field(
        default=False,
        description="send the start configuration with acquire (startParameter): Agora picks a recorder that "
        "can serve it, which helps after 'failed to allocate worker'",
    )


class RecordingRequest(_Strict):
    """``POST /recordings``."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"channel": "demo", "mode": "mix"}]},
    )

    channel: str = Field(min_length=1, max_length=1024, description="the Agora channel (web mode: a label)")
    mode: Literal["mix", "individual", "raw", "web"] = "mix"
    recording_config: RecordingConfigOverrides | None = None
    recording_file_config: RecordingFileConfig | None = None
    web: WebRecordingConfig | None = None
    cdn: CdnPush | None = Field(default=None, description='mode "web" only: push the rendered page to a CDN too')
    snapshot_config: SnapshotConfig | None = None
    acquire: AcquireOptions | None = None
    postponed: PostponedOptions | None = Field(
        default=None, description="postponed transcoding / audio mixing after the recording ends (individual mode)"
    )
    transcription: TranscriptionOptions | None = Field(
        default=None,
        description="live transcription (Agora Real-Time STT) of the channel, started when the recording starts "
        "and stopped with it (the body of POST /transcriptions without channel and recording_id)",
    )

    @model_validator(mode="after")
    def _mode_rules(self) -> Self:
        from agorakit.agora.errors import AgoraParameterError
        from agorakit.agora.models import validate_cname

        try:
            validate_cname(self.channel, web=self.mode == "web")
        except AgoraParameterError as exc:
            raise ValueError(f"channel: {exc}") from None
        config = self.recording_config
        if self.mode == "web":
            if self.web is None:
                raise ValueError('mode "web" needs web.url')
            if config is not None:
                raise ValueError('mode "web" takes no recording_config')
        elif self.web is not None:
            raise ValueError('web applies to mode "web" only')
        if config is not None:
            if self.mode != "mix" and (config.transcodingConfig is not None or config.audioProfile is not None):
                raise ValueError("transcodingConfig and audioProfile apply to mode mix only")
            if config.streamMode is not None and self.mode != "individual":
                raise ValueError("streamMode applies to mode individual only")
        files = self.recording_file_config
        if files is not None and "mp4" in files.avFileType and self.mode in ("individual", "raw"):
            raise ValueError('individual recording keeps avFileType ["hls"]')
        if self.snapshot_config is not None:
            if self.mode not in ("individual", "raw"):
                raise ValueError("snapshot_config applies to mode individual (or raw) only")
            if config is not None and config.streamTypes is not None and config.streamTypes not in (1, 2):
                raise ValueError("screenshots need video: recording_config.streamTypes must be 1 or 2")
        return self

    @model_validator(mode="after")
    def _postponed_rules(self) -> Self:
        if self.postponed is not None:
            check_request(self.postponed, self.mode, self.agora_recording_config())
        return self

    @model_validator(mode="after")
    def _transcription_in_a_channel(self) -> Self:
        if self.transcription is not None and self.mode == "web":
            raise ValueError('transcription applies to a channel\'s recording, not to mode "web" (a page)')
        return self

    @model_validator(mode="after")
    def _cdn_web_only(self) -> Self:
        if self.cdn is not None and self.mode != "web":
            raise ValueError('cdn (CDN push) applies to mode "web" only')
        return self

    def agora_recording_config(self) -> dict[str, Any] | None:
        if self.recording_config is None:
            return None
        return self.recording_config.model_dump(exclude_none=True)

    def agora_file_config(self) -> dict[str, Any] | None:
        return None if self.recording_file_config is None else self.recording_file_config.model_dump()

    def agora_snapshot_config(self) -> dict[str, Any] | None:
        return None if self.snapshot_config is None else self.snapshot_config.model_dump()


class AudioUidList(_Strict):
    subscribeAudioUids: UidList | None = None
    unsubscribeAudioUids: UidList | None = None

    _uids = field_validator("subscribeAudioUids", "unsubscribeAudioUids")(_check_uids)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.subscribeAudioUids is None) == (self.unsubscribeAudioUids is None):
            raise ValueError("set exactly one of subscribeAudioUids and unsubscribeAudioUids")
        return self


class VideoUidList(_Strict):
    subscribeVideoUids: UidList | None = None
    unsubscribeVideoUids: UidList | None = None

    _uids = field_validator("subscribeVideoUids", "unsubscribeVideoUids")(_check_uids)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.subscribeVideoUids is None) == (self.unsubscribeVideoUids is None):
            raise ValueError("set exactly one of subscribeVideoUids and unsubscribeVideoUids")
        return self


class StreamSubscribe(_Strict):
    audioUidList: AudioUidList | None = None
    videoUidList: VideoUidList | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.audioUidList is None and self.videoUidList is None:
            raise ValueError("streamSubscribe needs audioUidList or videoUidList")
        return self


class WebOnhold(_Strict):
    onhold: bool


class RtmpOutput(_Strict):
    rtmpUrl: RtmpUrl


class RtmpPublishConfig(_Strict):
    """update's ``rtmpPublishConfig``: the CDN addresses of a web recording's push (replaces the current ones)."""

    outputs: list[RtmpOutput] = Field(min_length=1, max_length=MAX_CDN_OUTPUTS)

    def urls(self) -> list[str]:
        return [output.rtmpUrl for output in self.outputs]


class UpdateRequest(_Strict):
    """``POST /recordings/{id}/update``: Agora's ``update`` clientRequest (subscriptions, web onhold, CDN URLs)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["#allstream#"]}}}]}
    )

    streamSubscribe: StreamSubscribe | None = None
    webRecordingConfig: WebOnhold | None = None
    rtmpPublishConfig: RtmpPublishConfig | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.streamSubscribe is None and self.webRecordingConfig is None and self.rtmpPublishConfig is None:
            raise ValueError("an update needs streamSubscribe, webRecordingConfig or rtmpPublishConfig")
        return self

    def client_request(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class LayoutRequest(LayoutFields):
    """``POST /recordings/{id}/layout``: Agora's ``updateLayout`` (a full overwrite of the mix layout)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"mixedVideoLayout": 1, "backgroundColor": "#000000"}]})

    def client_request(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# ---------------------------------------------------------------------------------------------- responses
# What the API answers (``logic.view``): documented in docs/openapi.json and checked by the API fuzz test.

Mode = Literal["mix", "individual", "raw", "web"]


class RecordingError(BaseModel):
    type: str | None = None
    code: int | str | None = None
    reason: str | None = None


class CdnOutputView(BaseModel):
    """One CDN address of a web recording's push, with the last state NCS event 100 reported for it."""

    url: str
    status: str | None = Field(
        description="connecting, publishing, onhold or disconnected (Agora's words); null before the first report"
    )
    updated_at: str | None = Field(default=None, description="when Agora reported this status (event 100 sendts)")
    current: bool = Field(description="false for an address an update replaced (its last report is kept)")


class RecordingView(BaseModel):
    """A recording as the API shows it (never the workflow's task token or lock internals)."""

    recording_id: str
    channel: str
    mode: Mode
    status: str = Field(description="QUEUED, REQUESTED, STARTING, RECORDING, STOPPING, STOPPED or FAILED")
    position: int | None = Field(default=None, description="QUEUED: the place in line (1: starts next)")
    estimated_wait_seconds: int | None = Field(default=None, description="QUEUED: a rough wait before it starts")
    recorder_uid: int | None = None
    bot_uid: int | None = None
    sid: str | None = None
    resource_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None
    stop_requested: Any = None
    stop_reason: str | None = None
    outcome: str | None = None
    files: list[Any] = Field(default_factory=list)
    snapshots: list[str] = Field(
        default_factory=list, description="screenshot files reported by NCS event 45 (all: GET .../snapshots)"
    )
    snapshots_truncated: bool = Field(default=False, description="more screenshots than the item keeps")
    uploading_status: str | None = Field(
        default=None,
        description="uploaded / backuped (Agora: stop reply or NCS 31/32); when both were lost, settled from the "
        "bucket: uploaded (every playlist final, every segment present) or incomplete (segments missing)",
    )
    uploading_status_from: Literal["agora", "bucket"] | None = Field(
        default=None, description="who said uploading_status: Agora, or the bucket's playlists and segments"
    )
    files_uploaded: int = 0
    upload_progress_percent: float | None = Field(
        default=None, description="Agora's upload progress (NCS event 33), 0-100; null before the first report"
    )
    last_upload_at: str | None = Field(default=None, description="when event 33 last reported progress")
    start_resolutions: list[Any] = Field(
        default_factory=list, description="how starts with an unknown outcome were resolved (adopted or removed)"
    )
    recorder_unconfirmed: Any = None
    exit_status: Any = None
    leave_reasons: list[Any] = Field(default_factory=list)
    reacquires: int = 0
    error: RecordingError | None = None
    postponed: PostponedView | None = Field(default=None, description="postponed transcoding / audio mixing result")
    agora_errors: list[dict[str, Any]] = Field(default_factory=list)
    agora_warnings: list[dict[str, Any]] = Field(default_factory=list)
    cdn: list[CdnOutputView] = Field(
        default_factory=list, description="web recordings with CDN push: each address and its state (NCS event 100)"
    )
    media: dict[str, Any] | None = Field(default=None, description="durations of the recorded files, when known")
    integrity: dict[str, Any] | None = Field(
        default=None,
        description="whether every segment the playlists reference is in the bucket: status complete, incomplete or "
        "pending, missing segments, checked_at (docs/playback-and-integrity.md)",
    )
    transcription_id: str | None = Field(
        default=None, description="the live transcription started with this recording (GET /transcriptions/{id})"
    )
    transcription_status: str | None = Field(
        default=None, description="that transcription's state (GET /recordings/{id} only; RUNNING, STOPPED, ...)"
    )
    transcription_error: str | None = Field(
        default=None, description="why the requested transcription did not start or stop (the recording goes on)"
    )


class RecordingAccepted(BaseModel):
    """``POST /recordings`` (202): the recording is requested (REQUESTED: its workflow starts it now) or
    QUEUED (Agora's concurrent-task limit is reached: it starts in order as slots free)."""

    recording_id: str
    status: str = Field(description="REQUESTED, or QUEUED while Agora has no free task slot")
    channel: str
    mode: Mode
    created_at: str | None = None
    position: int | None = Field(default=None, description="QUEUED: the place in line (1: starts next)")
    estimated_wait_seconds: int | None = Field(
        default=None, description="QUEUED: a rough wait before it starts (typical recording length / task limit)"
    )


class RecordingList(BaseModel):
    recordings: list[RecordingView]
    next_token: str | None = Field(description="pass back as ?next_token= for the next page; null on the last")


class SnapshotFile(BaseModel):
    file: str = Field(description="the JPG's name (Agora's: ...__uid_s_<uid>__uid_e_video_<utc>.jpg)")
    uid: int | None = Field(description="the user whose video was captured")
    taken_at: int | None = Field(description="capture time, Unix milliseconds (from the name)")
    size: int
    notified: bool = Field(description="whether NCS event 45 reported it (NCS loses events; the bucket is the truth)")
    url: str = Field(description="a presigned GetObject URL")


class SnapshotList(BaseModel):
    """A recording's screenshots, as the bucket has them, one page by file name."""

    recording_id: str
    total: int
    not_notified: int = Field(description="files in the bucket that no event 45 reported")
    snapshots: list[SnapshotFile]
    next_after: str | None = Field(description="pass as after= for the next page; null on the last")
    url_expires_in: int


class CaptionList(BaseModel):
    """Live-transcription files beside the recording (POST /transcriptions with its recording_id)."""

    recording_id: str
    tracks: list[CaptionTrack]
    transcripts: list[TranscriptFile]
    url_expires_in: int
