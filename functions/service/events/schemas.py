"""The events' contracts: one JSON Schema per detail-type and version, with an example, written to
``docs/events/<detail-type>.v<version>.json`` by ``python -m service.events.schemas docs/events``
(``make event-schemas``; tests/unit/test_events_contracts.py fails when the files are stale).

The schema is the detail model's (``service.events.model``), so what the publisher builds and what the
documents promise cannot drift apart; each example is validated by the model before it is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from service.events.model import DETAILS, Detail

_COMMON = {
    "version": 1, "event_id": "6f1c0b8e2a9d4c3b8e7f6a5b4c3d2e1f", "sequence": "4200000000012345678901",
    "occurred_at": "2026-12-07T04:10:00Z",
}  # fmt: skip
_REC = {"recording_id": "r-7Xq2p9", "channel": "lesson-42", "mode": "mix", "ordering_key": "recording:r-7Xq2p9"}
_SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
_MEDIA = {"sid": _SID, "recording_id": "r-7Xq2p9"}
_AGENT_ID = "0c1f4e8a9b2d7c6e5f4a3b2c1d0e9f8a"
_AGENT = {"agent_id": _AGENT_ID, "channel": "lesson-42", "profile": "tutor", "ordering_key": f"agent:{_AGENT_ID}"}
_AGORA_AGENT = "1NT29X10YHxxxxxWJOXLYHNYB"
_TX_ID = "5b2f9c0d1e2a3b4c5d6e7f8091a2b3c4"
_TX = {"transcription_id": _TX_ID, "channel": "lesson-42", "recording_id": "r-7Xq2p9",
       "ordering_key": f"transcription:{_TX_ID}"}  # fmt: skip
_STT_AGENT = "7c2d0e9f8a1b2c3d4e5f6a7b8c9d0e1f"

EXAMPLES: dict[str, dict[str, Any]] = {
    "Recording Requested": {**_REC, "requested_by": "admin-sub-1", "created_at": "2026-12-07T04:09:58.120Z"},
    "Recording Started": {**_REC, "sid": _SID, "started_at": "2026-12-07T04:10:01.004Z"},
    "Recording Stopped": {
        **_REC,
        "sid": _SID,
        "reason": "api",
        "outcome": "stopped",
        "stopped_at": "2026-12-07T04:40:00.000Z",
    },
    "Recording Failed": {
        **_REC,
        "sid": None,
        "reason": "acquire failed: 403",
        "error_type": "AgoraRequestError",
        "error_code": 403,
        "recorder_unconfirmed": False,
        "failed_at": "2026-12-07T04:10:03.000Z",
    },
    "Recording Files Ready": {
        **_REC,
        "sid": _SID,
        "uploading_status": "uploaded",
        "files": [f"recordings/lesson42/{_SID}_lesson-42.m3u8"],
    },
    "Recording Integrity Checked": {
        **_MEDIA,
        "ordering_key": f"media:{_SID}:#INTEGRITY",
        "status": "complete",
        "segments": 181,
        "missing_count": 0,
        "missing": [],
        "checked_at": "2026-12-07T04:40:12.000Z",
    },
    "Recording Duration Computed": {
        **_MEDIA,
        "ordering_key": f"media:{_SID}:#TOTALS",
        "duration_us": 1799000000,
        "duration_seconds": "1799.000000",
        "longest_stream_us": 1799000000,
        "segments": 181,
        "streams": 1,
    },
    "Recording Postponed Result": {
        **_REC,
        "sid": _SID,
        "status": "completed",
        "result": "0",
        "files": [f"{_SID}_lesson-42_0.mp4"],
    },
    "Recording CDN Status Changed": {
        **_REC,
        "mode": "web",
        "sid": _SID,
        "output": "0c1f4e8a9b2d7c6e5f4a3b2c",
        "host": "live.example.com",
        "status": "publishing",
        "previous_status": "connecting",
        "current": True,
    },
    "User Joined Channel": {
        "channel": "lesson-42",
        "ordering_key": "channel:lesson-42:user:1001",
        "uid": 1001,
        "role": "broadcaster",
        "bot": False,
        "platform": 1,
        "joined_ts": 1796616600,
    },
    "User Left Channel": {
        "channel": "lesson-42",
        "ordering_key": "channel:lesson-42:user:1001",
        "uid": 1001,
        "bot": False,
        "reason": 1,
        "reason_name": "quit",
        "left_ts": 1796618400,
        "session_seconds": 1800,
    },
    "Channel Closed": {
        "channel": "lesson-42",
        "ordering_key": "channel:lesson-42",
        "destroyed_ts": 1796618410,
        "last_uid": 1001,
    },
    "Kicking Rule Created": {
        "channel": "lesson-42",
        "ordering_key": "kicking-rule:1234567",
        "rule_id": 1234567,
        "uid": 1001,
        "privileges": ["join_channel"],
        "duration_seconds": 600,
        "expires_at": "2026-12-07T04:20:00.000Z",
        "created_by": "admin-sub-1",
    },
    "Kicking Rule Lifted": {
        "channel": "lesson-42",
        "ordering_key": "kicking-rule:1234567",
        "rule_id": 1234567,
        "uid": 1001,
        "privileges": ["join_channel"],
    },
    "Agent Requested": {
        **_AGENT,
        "requested_by": "admin-sub-1",
        "bot_uid": 4200010017,
        "remote_uids": [1001],
        "created_at": "2026-12-07T04:09:58.120Z",
        "max_duration_ends_at": "2026-12-07T05:09:58.120Z",
    },
    "Agent Started": {**_AGENT, "agora_agent_id": _AGORA_AGENT, "adopted": False, "bot_uid": 4200010017},
    "Agent Running": {**_AGENT, "agora_agent_id": _AGORA_AGENT, "started_at": "2026-12-07T04:10:01.004Z"},
    "Agent Stopped": {
        **_AGENT,
        "agora_agent_id": _AGORA_AGENT,
        "reason": "api",
        "started_at": "2026-12-07T04:10:01.004Z",
        "ended_at": "2026-12-07T04:40:00.000Z",
        "uptime_seconds": 1798,
        "history_turns": 24,
    },
    "Agent Failed": {
        **_AGENT,
        "agora_agent_id": None,
        "reason": "Agora refused the start: 422",
        "error_step": "start",
        "error_reason": "Agora refused the start: 422",
        "http_status": 422,
        "error_code": None,
        "ended_at": "2026-12-07T04:10:02.000Z",
    },
    "Agent History Saved": {
        **_AGENT,
        "history_key": "agents/c-6c6573736f6e2d3432/0c1f4e8a9b2d7c6e5f4a3b2c1d0e9f8a/history.json",
        "turns": 24,
        "previous_turns": 0,
    },
    "Transcription Requested": {
        **_TX,
        "languages": ["en-US"],
        "translate": {"en-US": ["es-ES"]},
        "bot_uid": 4200020042,
        "created_at": "2026-12-07T04:09:58.120Z",
    },
    "Transcription Started": {
        **_TX,
        "agent_id": _STT_AGENT,
        "generation": 0,
        "started_at": "2026-12-07T04:10:00.500Z",
    },
    "Transcription Running": {**_TX, "agent_id": _STT_AGENT, "generation": 0},
    "Transcription Restarted": {
        **_TX,
        "agent_id": "8d3e1f0a9b8c7d6e5f4a3b2c1d0e9f8a",
        "previous_agent_id": _STT_AGENT,
        "generation": 1,
        "started_at": "2026-12-10T03:59:58.000Z",
    },
    "Transcription Stopped": {
        **_TX,
        "agent_id": _STT_AGENT,
        "reason": "stopped by the API",
        "generation": 0,
        "agents": 1,
        "ended_at": "2026-12-07T04:40:00.000Z",
    },
    "Transcription Failed": {
        **_TX,
        "agent_id": None,
        "reason": None,
        "error": "Agora refused the join: 400",
        "generation": 0,
        "ended_at": "2026-12-07T04:10:01.000Z",
    },
    "Transcription Files Ready": {
        **_TX,
        "files": [
            f"recordings/lesson-42/r-7Xq2p9/{_STT_AGENT}_lesson-42_en-US.vtt",
            f"recordings/lesson-42/r-7Xq2p9/{_STT_AGENT}_lesson-42_transcript.json",
        ],
        "captions": [f"recordings/lesson-42/r-7Xq2p9/{_STT_AGENT}_lesson-42_en-US.vtt"],
        "total_files": 2,
    },
    "Certificate Rotated": {
        "ordering_key": "project:a1b2c3",
        "project_id": "a1b2c3",
        "app_id": "0123456789abcdef0123456789abcdef",
        "secret_version": "5e8f6c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
        "previous_tokens_valid": False,
    },
}


def file_name(model: type[Detail]) -> str:
    version = model.model_fields["version"].default
    return f"{model.schema_name()}.v{version}.json"


def schema(model: type[Detail]) -> dict[str, Any]:
    example = model.model_validate({**_COMMON, **EXAMPLES[model.DETAIL_TYPE]}).model_dump(mode="json")
    body = model.model_json_schema(mode="serialization")
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://agora-serverless/events/{file_name(model)}",
        "title": f"{model.DETAIL_TYPE} (detail, version {model.model_fields['version'].default})",
        "description": f"The detail of the {model.DETAIL_TYPE!r} event (source {model.SOURCE}); docs/events.md",
        "x-source": model.SOURCE,
        "x-detail-type": model.DETAIL_TYPE,
        **body,
        "examples": [example],
    }


def documents() -> dict[str, str]:
    """file name -> its text."""
    return {file_name(m): json.dumps(schema(m), indent=2, sort_keys=True) + "\n" for m in DETAILS}


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/events")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (out / name).write_text(text, encoding="utf-8")
    print(f"{len(DETAILS)} schemas written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
