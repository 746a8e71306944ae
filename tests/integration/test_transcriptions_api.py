"""``/transcriptions*`` through the deployed handler (built from the environment) on moto and the emulator's
Real-Time STT: start, list, get, patch (increasing sequenceId), delete; precise 4xx for every malformed request;
the admin group required; captions written beside the recording when one is named."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emulator import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, Emulator
from tests.support.apigw import FakeContext, http_api_event

TABLE = "api-transcriptions"
REST_SECRET = "agora/rest"
SIX_UIDS = [{"uid": u, "languages": ["en-US"]} for u in range(1, 7)]


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator(seed=11, qps=1000, time_scale=50.0).start()
    yield emu
    emu.stop()


@pytest.fixture
def api(emulator, monkeypatch):
    emulator.reset()
    with mock_aws():
        env = {"AGORA_APP_ID": DEFAULT_APP_ID, "AGORA_REST_SECRET_NAME": REST_SECRET, "ADMIN_GROUP": "admins",
               "AGORA_REST_BASE_URLS": emulator.url, "TRANSCRIPTIONS_TABLE": TABLE}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("AGORA_RATE_LIMIT_TABLE", "RECORDINGS_BUCKET", "APP_CERTIFICATE_SECRET_NAME"):
            monkeypatch.delenv(key, raising=False)
        from service.transcriptions.repository import create_table

        create_table(boto3.client("dynamodb"), TABLE)
        boto3.client("secretsmanager").create_secret(
            Name=REST_SECRET,
            SecretString=json.dumps({"customer_id": DEFAULT_CUSTOMER_ID, "customer_secret": DEFAULT_CUSTOMER_SECRET}),
        )
        from service.adapters import aws as aws_adapter

        aws_adapter.reset_clients()
        from service.transcriptions import handler

        handler.reset()
        yield SimpleNamespace(handler=handler, emulator=emulator)
        handler.reset()
        aws_adapter.reset_clients()


def call(api: Any, method: str, path: str, *, body: Any = None, raw: bytes | None = None,
         query: dict[str, str] | None = None, groups: list[str] | None = None) -> tuple[int, Any]:  # fmt: skip
    claims = {"sub": "admin-1", "cognito:groups": groups if groups is not None else ["admins"]}
    event = http_api_event(method, path, body=body, raw_body=raw, claims=claims, query=query)
    response = api.handler.handler(event, FakeContext())
    text = response.get("body")
    return response["statusCode"], json.loads(text) if text else None


def test_start_get_list_patch_and_delete(api) -> None:
    api.emulator.join("api-room", 3001)
    status, started = call(api, "POST", "/transcriptions", body={
        "channel": "api-room", "languages": ["en-US"], "translation": [{"source": "en-US", "targets": ["fr-FR"]}],
        "uid_languages": [{"uid": 3001, "languages": ["en-US"]}]})  # fmt: skip
    assert status == 201, started
    assert started["status"] == "STARTING" and started["agent_id"] and started["bot_uid"] >= 4_175_000_000
    assert started["cost_per_hour_usd"] == pytest.approx(1.5588)  # (16.99 + 8.99) / 1000 * 60
    tid = started["id"]
    status, again = call(api, "POST", "/transcriptions", body={"channel": "api-room", "languages": ["en-US"]})
    assert status == 409 and again["error"]["details"]["transcription_id"] == tid
    status, listed = call(api, "GET", "/transcriptions", query={"channel": "api-room"})
    assert status == 200 and [t["id"] for t in listed["transcriptions"]] == [tid]
    status, patched = call(api, "PATCH", f"/transcriptions/{tid}", body={"languages": ["en-US", "es-ES"]})
    assert status == 200 and patched["sequence_id"] == 0 and patched["languages"] == ["en-US", "es-ES"]
    status, patched = call(api, "PATCH", f"/transcriptions/{tid}", body={"subscribe_uids": [3001]})
    assert status == 200 and patched["sequence_id"] == 1
    agent = next(a for a in api.emulator.stt_history() if a["agent_id"] == started["agent_id"])
    assert agent["sequence_id"] == 1 and agent["languages"] == ["en-US", "es-ES"]
    status, got = call(api, "GET", f"/transcriptions/{tid}")
    assert status == 200 and got["id"] == tid
    status, stopped = call(api, "DELETE", f"/transcriptions/{tid}")
    assert status == 200 and stopped["status"] == "STOPPED"
    status, late = call(api, "PATCH", f"/transcriptions/{tid}", body={"languages": ["en-US"]})
    assert status == 409, late
    assert not [a for a in api.emulator.stt_history() if a["status"] not in ("STOPPED", "FAILED")]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"channel": "c", "languages": []}, "languages"),
        ({"channel": "c", "languages": ["en-US"] * 5}, "languages"),
        ({"channel": "c", "languages": ["en-US", "en-US"]}, "twice"),
        ({"channel": "c", "languages": ["not a language"]}, "languages"),
        ({"channel": "c", "languages": ["en-US"], "uid_languages": SIX_UIDS}, "uid_languages"),
        ({"channel": "c", "languages": ["en-US"], "subscribe_uids": [4_000_000_001]}, "subscribe_uids"),
        ({"channel": "c", "languages": ["en-US"], "translation": [{"source": "de-DE", "targets": ["fr-FR"]}]}, "de-DE"),
        ({"channel": "c", "languages": ["en-US"], "max_idle_seconds": -1}, "max_idle_seconds"),
        ({"channel": "bad/name", "languages": ["en-US"]}, "channel"),
        ({"channel": "c", "languages": ["en-US"], "surprise": 1}, "surprise"),
    ],
)  # fmt: skip
def test_malformed_starts_are_precise_400s(api, body, fragment) -> None:
    status, answer = call(api, "POST", "/transcriptions", body=body)
    assert status in (400, 422) and fragment in json.dumps(answer), answer
    assert api.emulator.stt_history() == []


def test_bad_ids_unknown_ids_and_callers(api) -> None:
    assert call(api, "GET", "/transcriptions/not-an-id")[0] == 400
    assert call(api, "GET", "/transcriptions/" + "0" * 32)[0] == 404
    assert call(api, "DELETE", "/transcriptions/" + "0" * 32)[0] == 404
    assert call(api, "PATCH", "/transcriptions/" + "0" * 32, body={})[0] in (400, 404)
    assert call(api, "GET", "/transcriptions", groups=["users"])[0] == 403
    assert call(api, "GET", "/transcriptions", query={"cursor": "!!"})[0] == 400
    assert call(api, "GET", "/transcriptions", query={"limit": "0"})[0] in (400, 422)
    assert call(api, "POST", "/transcriptions", raw=b"{not json")[0] == 400


@pytest.fixture
def api_bucket(api, monkeypatch):
    """The same handler with the recordings bucket and the uploader's keys (Agora gets ``captionConfig``)."""
    monkeypatch.setenv("RECORDINGS_BUCKET", "captions-bucket")
    monkeypatch.setenv("RECORDING_UPLOADER_SECRET_NAME", "uploader")
    boto3.client("s3").create_bucket(Bucket="captions-bucket")
    boto3.client("secretsmanager").create_secret(
        Name="uploader", SecretString=json.dumps({"access_key": "AKIAUPLOADER", "secret_key": "uploader-secret"})
    )
    api.handler.reset()
    return api


def agora_writes(api: Any, agent_id: str, *, extra: tuple[str, ...] = ()) -> list[str]:
    """The files Agora writes for ``agent_id`` at the prefix our join gave it (``captionConfig.storage``), plus
    ``extra`` names in the same folder (another agent's files, the recording's media)."""
    from emulator.naming import object_key

    agent = api.emulator.stt.agents[agent_id]
    prefix, channel = agent.caption["storage"]["fileNamePrefix"], agent.cname
    names = [f"{agent_id}_{channel}_en-US.vtt", f"{agent_id}_{channel}_fr-FR.vtt",
             f"{agent_id}_{channel}_transcript.json", *extra]  # fmt: skip
    keys = [object_key(prefix, name) for name in names]
    for key in keys:
        boto3.client("s3").put_object(Bucket="captions-bucket", Key=key, Body=b"WEBVTT\n")
    return keys


def test_captions_of_a_transcription_with_and_without_a_recording(api_bucket) -> None:
    api = api_bucket
    api.emulator.join("cap-room", 3101)
    api.emulator.join("cap-rec-room", 3102)
    body = {"channel": "cap-room", "languages": ["en-US"], "translation": [{"source": "en-US", "targets": ["fr-FR"]}]}
    status, alone = call(api, "POST", "/transcriptions", body=body)
    assert status == 201, alone
    keys = agora_writes(api, alone["agent_id"], extra=("OTHERAGENT_cap-room_en-US.vtt",))
    assert keys[0].startswith(f"transcripts/caproom/{alone['id']}/")  # no recording: its own folder
    status, listed = call(api, "GET", f"/transcriptions/{alone['id']}/captions")
    assert status == 200, listed
    assert listed["transcription_id"] == alone["id"] and listed["recording_id"] is None
    assert [(t["agent_id"], t["language"]) for t in listed["tracks"]] == [
        (alone["agent_id"], "en-US"), (alone["agent_id"], "fr-FR")]  # fmt: skip
    assert [t["file"] for t in listed["transcripts"]] == [f"{alone['agent_id']}_cap-room_transcript.json"]
    assert all("X-Amz-Signature" in t["url"] or "Signature" in t["url"] for t in listed["tracks"])
    assert listed["url_expires_in"] == 900
    assert call(api, "GET", f"/transcriptions/{alone['id']}/captions", query={"expires_in": "60"})[1][
        "url_expires_in"] == 60  # fmt: skip
    status, refused = call(api, "GET", f"/transcriptions/{alone['id']}/captions", query={"expires_in": "901"})
    assert status == 400 and "expires_in" in refused["error"]["message"]
    assert call(api, "GET", f"/transcriptions/{alone['id']}/captions", query={"expires_in": "x"})[0] in (400, 422)

    recording = "0c3e2b4f-1f5a-4d7e-9b1a-2f6c8d9e0a1b"
    status, beside = call(api, "POST", "/transcriptions", body={"channel": "cap-rec-room", "languages": ["en-US"],
                                                                "recording_id": recording})  # fmt: skip
    assert status == 201, beside
    keys = agora_writes(api, beside["agent_id"], extra=("EARLIERAGENT_cap-rec-room_en-US.vtt", "sid_caprecroom.m3u8"))
    assert keys[0].startswith(f"recordings/caprecroom/{recording.replace('-', '')}/")  # beside its playlist
    status, listed = call(api, "GET", f"/transcriptions/{beside['id']}/captions")
    assert status == 200 and listed["recording_id"] == recording
    assert {t["agent_id"] for t in listed["tracks"]} == {beside["agent_id"]}  # not an earlier transcription's
    assert len(listed["tracks"]) == 2 and len(listed["transcripts"]) == 1
    for tid in (alone["id"], beside["id"]):
        assert call(api, "DELETE", f"/transcriptions/{tid}")[0] == 200
    assert call(api, "GET", f"/transcriptions/{alone['id']}/captions")[0] == 200  # the files stay after the end


def test_captions_of_unknown_and_malformed_ids_and_without_a_bucket(api) -> None:
    status, answer = call(api, "GET", "/transcriptions/" + "0" * 32 + "/captions")
    assert status == 404 and "not found" in answer["error"]["message"]
    status, answer = call(api, "GET", "/transcriptions/not-an-id/captions")
    assert status == 400 and "32 lowercase hexadecimal" in answer["error"]["message"]
    assert call(api, "GET", "/transcriptions/" + "0" * 32 + "/captions", groups=["users"])[0] == 403
    api.emulator.join("cap-nobucket", 3103)
    status, started = call(api, "POST", "/transcriptions", body={"channel": "cap-nobucket", "languages": ["en-US"]})
    assert status == 201
    status, answer = call(api, "GET", f"/transcriptions/{started['id']}/captions")
    assert status == 503 and "RECORDINGS_BUCKET" in answer["error"]["message"]
    call(api, "DELETE", f"/transcriptions/{started['id']}")
