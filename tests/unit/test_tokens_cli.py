"""``agorakit token build|inspect`` through ``agorakit.cli.main``, and one real ``python -m agorakit`` process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agorakit.cli import main
from agorakit.tokens import build_legacy_token, build_rtc_token

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
# official vector 007-12 (RTC publisher uid 2882341273 + RTM "test_user", issue_ts 1111111, salt 1, expire 600)
RTC_RTM = (
    "007eJxTYOAQsrQ5s3TfH+1tvy8zZZ46EpCc0V43JXdGd2jS8porKo4KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgY"
    "GRgYmIAkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzY5BZEJM4GUpSi0viS4tTiwAipyp4"
)
SPEC: dict[str, Any] = {
    "app_id": APP_ID,
    "app_certificate": CERT,
    "expire": 600,
    "issue_ts": 1111111,
    "salt": 1,
    "services": [
        {
            "type": "rtc",
            "channel_name": CHANNEL,
            "uid": 2882341273,
            "privileges": {"1": 600, "2": 600, "3": 600, "4": 600},
        },
        {"type": "rtm", "user_id": "test_user", "privileges": {"1": 600}},
    ],
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["token", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_build_from_a_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    assert run(capsys, "build", "--spec", str(path)) == (0, RTC_RTM + "\n", "")


def test_build_from_stdin_with_names(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["services"][0]["privileges"] = {"join_channel": 600, "publish_audio_stream": 600, "3": 600,
                                         "publish_data_stream": 600}  # fmt: skip
    spec["services"][1] = {"type": 2, "user_id": "test_user", "privileges": {"login": 600}}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(spec)))
    assert run(capsys, "build", "--spec", "-") == (0, RTC_RTM + "\n", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps(SPEC | {"expire": 86_401}), "error: expire: must be between 1 and 86400"),
        (json.dumps(SPEC | {"app_certificate": "nope"}), "error: app_certificate: must be exactly 32 hex"),
        (json.dumps(SPEC | {"services": [{"type": "rtc", "channel_name": "a*b", "uid": 1, "privileges": {"1": 1}}]}),
         "error: services[0].channel_name: contains '*'"),
    ],
)  # fmt: skip
def test_build_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "spec.json"
    path.write_text(content)
    code, out, err = run(capsys, "build", "--spec", str(path))
    assert (code, out) == (1, "")
    assert err.startswith(message) or message in err
    assert err.count("\n") == 1
    assert "nope" not in err


def test_build_with_a_missing_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "build", "--spec", str(tmp_path / "missing.json"))
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot read spec") and err.count("\n") == 1


def test_inspect_prints_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "inspect", RTC_RTM)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data == {
        "version": "007",
        "app_id": APP_ID,
        "issue_ts": 1111111,
        "expire": 600,
        "salt": 1,
        "expires_at": 1111711,
        "service_count": 2,
        "services": [
            {"type": 1, "name": "rtc", "privileges": {"1": 600, "2": 600, "3": 600, "4": 600},
             "privilege_names": {"join_channel (1)": 600, "publish_audio_stream (2)": 600,
                                 "publish_video_stream (3)": 600, "publish_data_stream (4)": 600},
             "channel_name": CHANNEL, "uid": "2882341273"},
            {"type": 2, "name": "rtm", "privileges": {"1": 600}, "privilege_names": {"login (1)": 600},
             "user_id": "test_user"},
        ],
        "signature": "0812393ccca5befc2bb6fbd30269cac4506368877e946d988b5562a77cd42441",
        "signature_valid": None,
    }  # fmt: skip


@pytest.mark.parametrize(("certificate", "valid"), [(CERT, True), ("0" * 32, False), (CERT.lower(), False)])
def test_inspect_verifies_with_a_certificate(capsys: pytest.CaptureFixture[str], certificate: str, valid: bool) -> None:
    code, out, err = run(capsys, "inspect", RTC_RTM, "--app-certificate", certificate)
    assert code == (0 if valid else 1)  # like `ncs verify`: scripts can rely on the exit status
    assert json.loads(out)["signature_valid"] is valid
    assert ("does not verify" in err) is not valid


def test_inspect_reads_the_certificate_from_a_file_and_the_token_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "cert"
    secret.write_text(CERT + "\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(RTC_RTM + "\n"))
    code, out, _ = run(capsys, "inspect", "-", "--app-certificate-file", str(secret))
    assert code == 0
    assert json.loads(out)["signature_valid"] is True


def test_inspect_the_2026_services(capsys: pytest.CaptureFixture[str]) -> None:
    # official vector 007-02: Streaming, FCDN and RTM2 with permissions
    token = (
        "007eJxTYPj86Lzdz79M25wNn/lMfvu+TkfmdpiviKvChm8ZV3SWndytwGBpbuDsaGyakmpmkGxiYmZimpSUmGqRaGRoamBmmGRs7P5FgCGCiYG"
        "BkYGBgRkImYAsEJ8JTCowmKeYGxmbmaYmWVoYm1iYGluapxqnGqdZppiYGSSlpCRyMRhZWBgZmxgamRuzUaSbA6gXopuToSS1uCS+tDi1iJkB4"
        "jQmoGBuanFxYnqqbiKCmcTIAIEcDMUlRamJubqJLGD1jAxsDCD9uokAO/VDvQ=="
    )
    code, out, _ = run(capsys, "inspect", token, "--app-certificate", CERT)
    data = json.loads(out)
    assert code == 0 and data["signature_valid"] is True
    assert [(s["type"], s["name"]) for s in data["services"]] == [(3, "streaming"), (6, "fcdn"), (8, "rtm2")]
    assert data["services"][0] == {"type": 3, "name": "streaming", "privileges": {"1": 600, "2": 600},
                                   "privilege_names": {"publish_mix_stream (1)": 600, "publish_raw_stream (2)": 600},
                                   "channel_name": CHANNEL, "account": "2882341273"}  # fmt: skip
    assert data["services"][2]["permissions"] == {"0": {"0": ["message-a", "message-b"]}, "1": {"1": ["stream-a"]},
                                                  "4": {"0": ["user-a"]}}  # fmt: skip


def test_inspect_legacy_006(capsys: pytest.CaptureFixture[str]) -> None:
    token = build_legacy_token(app_id=APP_ID, app_certificate=CERT, channel_name=CHANNEL, uid=2882341273,
                               privileges={1: 1446455471}, ts=1111111, salt=1)  # fmt: skip
    code, out, _ = run(capsys, "inspect", token)
    data = json.loads(out)
    assert code == 0
    assert {k: data[k] for k in ("version", "app_id", "salt", "ts", "privileges", "signature_valid")} == {
        "version": "006", "app_id": APP_ID, "salt": 1, "ts": 1111111, "privileges": {"1": 1446455471},
        "signature_valid": None,
    }  # fmt: skip
    assert data["privilege_names"] == {"join_channel (1)": 1446455471}
    code, out, _ = run(
        capsys, "inspect", token, "--app-certificate", CERT, "--channel-name", CHANNEL, "--uid", "2882341273"
    )
    assert code == 0 and json.loads(out)["signature_valid"] is True
    code, out, _ = run(capsys, "inspect", token, "--app-certificate", CERT, "--channel-name", CHANNEL, "--uid", "7")
    assert code == 1 and json.loads(out)["signature_valid"] is False
    code, out, err = run(capsys, "inspect", token, "--app-certificate", CERT)
    assert (code, out) == (1, "")
    assert "needs its channel_name and uid" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("garbage", "error: unsupported token version 'gar'"),
        ("007eJxTYLC/xv0i87343FLb46KrG9gPxT+Vj8pojqvt", "error: the token body is a truncated zlib stream"),
        ("007" + "!" * 10, "error: the 007 token body is not valid base64"),
    ],
)
def test_inspect_an_invalid_token(capsys: pytest.CaptureFixture[str], token: str, message: str) -> None:
    code, out, err = run(capsys, "inspect", token)
    assert (code, out) == (1, "")
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_inspect_refuses_a_bad_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    token = build_rtc_token(app_id=APP_ID, app_certificate=CERT, channel_name="c", uid=1, role="subscriber", expire=60)
    code, out, err = run(capsys, "inspect", token, "--app-certificate", "123")
    assert (code, out) == (1, "")
    assert err.startswith("error: app_certificate: must be exactly 32 hex characters")


@pytest.mark.slow  # the process boundary (exit code, no traceback) is the point
def test_a_real_process_exits_non_zero_without_a_traceback() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "agorakit", "token", "inspect", "007eJxTYLC/xv0i87343FLb46KrG9gPxT+Vj8pojqvt"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr == "error: the token body is a truncated zlib stream\n"
    assert "Traceback" not in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "agorakit", "token", "inspect", RTC_RTM, "--app-certificate", CERT],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["signature_valid"] is True


def test_version_and_missing_files_name_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from agorakit import __version__
    from agorakit.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"agorakit {__version__}"
    missing = tmp_path / "nope.json"
    assert main(["m3u8", "duration", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {missing}: No such file or directory\n" and "Errno" not in err
    assert main(["ncs", "sign", "--secret", "s", str(missing)]) == 1
    assert capsys.readouterr().err == f"error: {missing}: No such file or directory\n"


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    from agorakit.cli import main

    for command in (["ncs", "--help"], ["token", "inspect", "--help"], ["m3u8", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            main(command)
        out = capsys.readouterr().out
        assert "``" not in out, (command, out)
