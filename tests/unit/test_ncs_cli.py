"""``python -m agorakit ncs sign|verify``: in-process through agorakit.cli.main, plus one real subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from agorakit.cli import main
from agorakit.ncs.signature import HEADER_V1, HEADER_V2

BODY = (
    b'{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f",'
    b'"notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}'
)
SHA1 = "033c62f40f687675f17f0f41f91a40c71c0f134c"
SHA256 = "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99"


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "body.json"
    path.write_bytes(BODY)
    return str(path)


def test_sign_prints_both_headers(body_file, capsys):
    assert main(["ncs", "sign", "--secret", "secret", body_file]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {HEADER_V1: SHA1, HEADER_V2: SHA256}


def test_sign_from_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BODY)))
    assert main(["ncs", "sign", "--secret", "secret", "-"]) == 0
    assert json.loads(capsys.readouterr().out)[HEADER_V2] == SHA256


def test_sign_secret_from_environment(body_file, monkeypatch, capsys):
    monkeypatch.setenv("NCS_SECRET", "secret")
    assert main(["ncs", "sign", body_file]) == 0
    assert json.loads(capsys.readouterr().out)[HEADER_V1] == SHA1


def test_strip_newline(tmp_path, capsys):
    path = tmp_path / "edited.json"
    path.write_bytes(BODY + b"\n")
    assert main(["ncs", "verify", "--secret", "secret", "--signature-v2", SHA256, str(path)]) == 1
    capsys.readouterr()
    assert main(["ncs", "verify", "--secret", "secret", "--strip-newline", "--signature-v2", SHA256, str(path)]) == 0


@pytest.mark.parametrize(("flag", "value"), [("--signature-v2", SHA256), ("--signature", SHA1)])
def test_verify_valid(body_file, capsys, flag, value):
    assert main(["ncs", "verify", "--secret", "secret", flag, value, body_file]) == 0
    assert capsys.readouterr().out.startswith("valid:")


@pytest.mark.parametrize(
    ("secret", "flag", "value"),
    [("0ther-Val", "--signature-v2", SHA256), ("secret", "--signature-v2", SHA1), ("secret", "--signature", "0" * 40)],
)
def test_verify_invalid_is_exit_1_with_one_line(body_file, capsys, secret, flag, value):
    assert main(["ncs", "verify", "--secret", secret, flag, value, body_file]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("invalid:")
    assert "0ther-Val" not in captured.err


def test_verify_needs_exactly_one_signature(body_file, capsys):
    with pytest.raises(SystemExit) as info:
        main(["ncs", "verify", "--secret", "secret", body_file])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["ncs", "verify", "--secret", "s", "--signature", SHA1, "--signature-v2", SHA256, body_file])


def test_missing_secret_and_missing_file(body_file, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NCS_SECRET", raising=False)
    assert main(["ncs", "sign", body_file]) == 1
    assert capsys.readouterr().err.startswith("error: no secret")
    assert main(["ncs", "sign", "--secret", "s", str(tmp_path / "missing.json")]) == 1
    assert capsys.readouterr().err.startswith("error:")


@pytest.mark.slow  # the real `python -m agorakit` is the point
def test_module_entry_point(body_file):
    """The real ``python -m agorakit`` (a subprocess; no network involved)."""
    done = subprocess.run(
        [sys.executable, "-m", "agorakit", "ncs", "verify", "--secret", "secret", "--signature", SHA1, body_file],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "agorakit", "ncs", "sign", "--secret", "secret", "-"],
        input=BODY.decode(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(done.stdout) == {HEADER_V1: SHA1, HEADER_V2: SHA256}


@pytest.mark.parametrize(("only", "expected"), [("v2", SHA256), ("v1", SHA1)])
def test_sign_only_prints_one_header_value_for_a_curl_line(body_file, capsys, only, expected):
    assert main(["ncs", "sign", "--secret", "secret", "--only", only, body_file]) == 0
    assert capsys.readouterr().out == expected + "\n"
