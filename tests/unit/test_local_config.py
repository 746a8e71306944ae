"""``local.env`` and the real Agora mode switch, offline: parsing, precedence of flags, refusals, the wiring chosen.

Nothing here calls Agora: the real mode's effects are checked on what the local stack would wire (App ID, REST
hosts, refused routes, the page's configuration).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.config import KEYS, ConfigError, RealAgora, parse_env_file
from local.run import LOCAL_APP_ID, parse_args
from local.web import local_config

APP_ID = "a" * 32
CERT = "b" * 32
ROOT = Path(__file__).resolve().parents[2]


def test_the_file_format_comments_quotes_export_and_empty_values() -> None:
    values = parse_env_file(
        "# a comment\n\nPORT=9080\nexport WEB_PORT = 9081\nCORS_ORIGINS='http://localhost:5173'\n"
        'AGORA_APP_ID="' + APP_ID + '"\nSTATE=.local-stack/state  # kept here\nEMULATOR_OPTIONS=\n'
    )
    assert values == {"PORT": "9080", "WEB_PORT": "9081", "CORS_ORIGINS": "http://localhost:5173",
                      "AGORA_APP_ID": APP_ID, "STATE": ".local-stack/state", "EMULATOR_OPTIONS": ""}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PROT=9080\n", "local.env:1: unknown key PROT (did you mean PORT?)"),
        ("PORT 9080\n", "local.env:1: expected KEY=VALUE"),
        ("\nport=1\n", "local.env:2: expected KEY=VALUE"),
        ("ZZZ=1\n", "known keys: PORT, WEB_PORT"),
    ],
)
def test_a_bad_line_is_an_error_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        parse_env_file(text)
    assert message in str(info.value)


def test_the_example_documents_every_key_and_parses() -> None:
    text = (ROOT / "local.env.example").read_text()
    assert set(parse_env_file(text)) == set(KEYS)


def test_flags_override_local_env_which_overrides_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "local.env"
    config.write_text(
        "PORT=9080\nMOTO_PORT=5001\nSTATE=saved\nRELOAD=false\n"
        "EMULATOR_OPTIONS=fault_206_65=0.1 webhook_lose_types=[11]\nCORS_ORIGINS=http://localhost:5173\n"
    )
    args = parse_args(["--config", str(config), "--port", "7080"])
    assert (args.port, args.moto_port, args.emulator_port, args.web_port) == (7080, 5001, 8090, 8081)
    assert args.state == Path("saved") and args.reload is False
    assert args.emulator_option == [("fault_206_65", 0.1), ("webhook_lose_types", [11])]
    assert args.cors_origins == "http://localhost:5173"
    assert parse_args(["--config", str(config), "--state", "other"]).state == Path("other")


def test_a_bad_value_in_local_env_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "local.env"
    config.write_text("RELOAD=perhaps\n")
    with pytest.raises(ConfigError, match="RELOAD='perhaps': expected true or false"):
        parse_args(["--config", str(config)])
    config.write_text("EMULATOR_OPTIONS=fault_429\n")
    with pytest.raises(ConfigError, match="EMULATOR_OPTIONS: expected NAME=VALUE"):
        parse_args(["--config", str(config)])
    with pytest.raises(ConfigError, match="no such file"):
        parse_args(["--config", str(tmp_path / "missing.env")])


def test_no_app_id_means_the_emulator() -> None:
    assert RealAgora.from_values(app_id=None, app_certificate=None) is None
    assert RealAgora.from_values(app_id="", app_certificate="") is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"app_id": None, "app_certificate": CERT}, "AGORA_APP_CERTIFICATE without AGORA_APP_ID"),
        ({"app_id": None, "app_certificate": None, "customer_id": "c"}, "AGORA_CUSTOMER_ID without AGORA_APP_ID"),
        ({"app_id": "xyz", "app_certificate": CERT}, "AGORA_APP_ID must be 32 hexadecimal characters"),
        ({"app_id": APP_ID, "app_certificate": None}, "AGORA_APP_ID needs AGORA_APP_CERTIFICATE"),
        ({"app_id": APP_ID, "app_certificate": "short"}, "AGORA_APP_CERTIFICATE must be 32 hexadecimal"),
        ({"app_id": APP_ID, "app_certificate": CERT, "customer_id": "c"}, "go together"),
        ({"app_id": APP_ID, "app_certificate": CERT, "customer_secret": "s"}, "go together"),
        ({"app_id": APP_ID, "app_certificate": CERT, "emulator_options": True}, "the emulator does not run"),
        ({"app_id": APP_ID, "app_certificate": CERT, "rest_urls": "http://api.agora.io"}, "not an https:// URL"),
    ],
)
def test_combinations_that_cannot_work_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RealAgora.from_values(**values)  # type: ignore[arg-type]
    assert message in str(info.value)


ROUTES = ["POST /tokens", "POST /tokens/rtm", "POST /recordings", "POST /recordings/{id}/stop", "GET /recordings",
          "GET /channels", "POST /channels/{name}/kick", "GET /projects", "POST /webhooks/agora"]  # fmt: skip


def test_real_mode_with_rest_credentials_refuses_only_recording_start() -> None:
    real = RealAgora.from_values(
        app_id=APP_ID.upper(), app_certificate=CERT, customer_id="c", customer_secret="s",
        rest_urls="https://api.agora.io, https://api.sd-rtn.com",
    )  # fmt: skip
    assert real is not None and real.app_id == APP_ID and real.has_rest
    assert real.rest_base_urls == ("https://api.agora.io", "https://api.sd-rtn.com")
    refused = real.refused_routes(ROUTES)
    assert list(refused) == ["POST /recordings"]
    assert "cannot be reached from Agora's cloud" in refused["POST /recordings"]


def test_real_mode_without_rest_credentials_serves_tokens_only() -> None:
    real = RealAgora.from_values(app_id=APP_ID, app_certificate=CERT)
    assert real is not None and not real.has_rest and real.rest_base_urls == ()
    refused = real.refused_routes(ROUTES)
    assert set(ROUTES) - set(refused) == {"POST /tokens", "POST /tokens/rtm", "GET /recordings", "POST /webhooks/agora"}
    assert "cannot be reached from Agora's cloud" in refused.pop("POST /recordings")
    assert all("AGORA_CUSTOMER_ID" in message for message in refused.values())


def test_real_mode_from_local_env(tmp_path: Path) -> None:
    config = tmp_path / "local.env"
    config.write_text(f"AGORA_APP_ID={APP_ID}\nAGORA_APP_CERTIFICATE={CERT}\nAGORA_NCS_SECRET=ncs\n")
    args = parse_args(["--config", str(config)])
    real = RealAgora.from_values(
        app_id=args.agora_app_id, app_certificate=args.agora_app_certificate, customer_id=args.agora_customer_id,
        customer_secret=args.agora_customer_secret, ncs_secret=args.agora_ncs_secret, rest_urls=args.agora_rest_urls,
    )  # fmt: skip
    assert real == RealAgora(APP_ID, CERT, None, None, "ncs", ())


def test_the_page_is_told_whether_a_real_app_id_is_configured() -> None:
    def config(js: str) -> dict[str, object]:
        return dict(json.loads(js.split("=", 1)[1].strip().rstrip(";")))

    local = config(local_config("http://127.0.0.1:8080", [], app_id=LOCAL_APP_ID))
    assert local["realAgora"] is False and local["agoraAppId"] == LOCAL_APP_ID
    real = config(local_config("http://127.0.0.1:8080", [], real_agora=True, app_id=APP_ID))
    assert real["realAgora"] is True and real["agoraAppId"] == APP_ID


@pytest.mark.slow  # runs node --version in a child process, as the library does
def test_the_library_silences_the_node_end_of_life_banner_for_the_running_node() -> None:
    """Where jsii is first imported (``local.synth``), not only in the Makefile: a user's own tests use it too."""
    import shutil
    import subprocess
    import sys

    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH: jsii (and its banner) cannot run here")
    major = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("JSII_SILENCE")}
    code = "import os; from local.synth import quiet_node_end_of_life as q; q(); " \
        "print(os.environ['JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION'])"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.strip() == major.lstrip("v").split(".")[0]


def test_emulator_qps_below_zero_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from agorakit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["emulator", "--qps", "-3"])
    assert info.value.code == 2
    assert "argument --qps: must not be negative" in capsys.readouterr().err
