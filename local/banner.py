"""What ``make run`` prints: where everything is, and a walkthrough that works when pasted top to bottom.

Each line of the walkthrough uses a token that is allowed to call its route (a host for tokens, the
admin for recordings and moderation) and a body the route accepts; ids flow from one line to the next
through shell variables. ``tests/e2e/test_web_and_banner.py`` runs these lines against a live stack, and
``ROUTE_STEPS`` must name every route of the stack (a new route without a walkthrough line fails there).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

#: route key -> the walkthrough line that calls it (``$API``, ``$HOST``, ``$ADMIN``, ``$OWNER``, ``$REC``, ``$RULE``)
ROUTE_STEPS: dict[str, str] = {
    "POST /tokens": """curl -s -X POST "$API/tokens" -H "Authorization: Bearer $HOST" """
    """-H 'content-type: application/json' -d '{"channel":"demo","role":"publisher","rtm":true,"ttl":3600}'""",
    "POST /tokens/rtm": """curl -s -X POST "$API/tokens/rtm" -H "Authorization: Bearer $HOST" """
    """-H 'content-type: application/json' -d '{"ttl":3600}'""",
    "GET /channels": """curl -s "$API/channels" -H "Authorization: Bearer $ADMIN\"""",
    "GET /channels/{name}/users": """curl -s "$API/channels/demo/users" -H "Authorization: Bearer $ADMIN\"""",
    "GET /channels/{name}/users/{uid}": """curl -s "$API/channels/demo/users/1001" """
    """-H "Authorization: Bearer $ADMIN\"""",
    "POST /channels/{name}/kick": """RULE=$(curl -s -X POST "$API/channels/demo/kick" """
    """-H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' """
    """-d '{"uid":1002,"duration_seconds":60}' | field id); echo "rule $RULE\"""",
    "GET /channels/{name}/hosts": """curl -s "$API/channels/demo/hosts" -H "Authorization: Bearer $ADMIN\"""",
    "POST /kicking-rules": """curl -s -X POST "$API/kicking-rules" -H "Authorization: Bearer $ADMIN" """
    """-H 'content-type: application/json' -d '{"ip":"192.0.2.7","duration_seconds":60}'""",
    "GET /kicking-rules": """curl -s "$API/kicking-rules" -H "Authorization: Bearer $ADMIN\"""",
    "PUT /kicking-rules/{id}": """curl -s -X PUT "$API/kicking-rules/$RULE" -H "Authorization: Bearer $ADMIN" """
    """-H 'content-type: application/json' -d '{"duration_seconds":120}'""",
    "DELETE /kicking-rules/{id}": """curl -s -X DELETE "$API/kicking-rules/$RULE" """
    """-H "Authorization: Bearer $ADMIN"; echo "rule $RULE lifted\"""",
    "GET /ncs/ips": """curl -s "$API/ncs/ips" -H "Authorization: Bearer $ADMIN\"""",
    "POST /recordings": """REC=$(curl -s -X POST "$API/recordings" -H "Authorization: Bearer $ADMIN" """
    """-H 'content-type: application/json' -d '{"channel":"demo"}' | field recording_id); echo "recording $REC\"""",
    "GET /recordings": """curl -s "$API/recordings?channel=demo" -H "Authorization: Bearer $ADMIN\"""",
    "GET /recordings/{id}": """curl -s "$API/recordings/$REC" -H "Authorization: Bearer $ADMIN\"""",
    "GET /recordings/{id}/snapshots": """curl -s "$API/recordings/$REC/snapshots?limit=10" """
    """-H "Authorization: Bearer $ADMIN\"""",
    "GET /recordings/{id}/playlist": """for i in $(seq 120); do [ "$(curl -s "$API/recordings/$REC" """
    """-H "Authorization: Bearer $ADMIN" | field files)" != "[]" ] && break; sleep 0.5; done; """
    """curl -s "$API/recordings/$REC/playlist" -H "Authorization: Bearer $ADMIN\"""",
    "POST /recordings/{id}/layout": """curl -s -X POST "$API/recordings/$REC/layout" """
    """-H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"mixedVideoLayout":1}'""",
    "POST /recordings/{id}/update": """curl -s -X POST "$API/recordings/$REC/update" """
    """-H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' """
    """-d '{"streamSubscribe":{"audioUidList":{"subscribeAudioUids":["#allstream#"]}}}'""",
    "POST /recordings/{id}/stop": """curl -s -X POST "$API/recordings/$REC/stop" """
    """-H "Authorization: Bearer $ADMIN\"""",
    "POST /transcriptions": """TX=$(curl -s -X POST "$API/transcriptions" -H "Authorization: Bearer $ADMIN" """
    """-H 'content-type: application/json' -d "{\\"channel\\":\\"demo\\",\\"languages\\":[\\"en-US\\"],"""
    """\\"recording_id\\":\\"$REC\\"}" | field id); echo "transcription $TX\"""",
    "GET /transcriptions": """curl -s "$API/transcriptions?channel=demo" -H "Authorization: Bearer $ADMIN\"""",
    "GET /transcriptions/{id}": """curl -s "$API/transcriptions/$TX" -H "Authorization: Bearer $ADMIN\"""",
    "PATCH /transcriptions/{id}": """curl -s -X PATCH "$API/transcriptions/$TX" -H "Authorization: Bearer $ADMIN" """
    """-H 'content-type: application/json' -d '{"translation":[{"source":"en-US","targets":["fr-FR"]}]}'""",
    "GET /recordings/{id}/captions": """curl -s "$API/recordings/$REC/captions" -H "Authorization: Bearer $ADMIN\"""",
    "GET /transcriptions/{id}/captions": """curl -s "$API/transcriptions/$TX/captions" """
    """-H "Authorization: Bearer $ADMIN\"""",
    "DELETE /transcriptions/{id}": """curl -s -X DELETE "$API/transcriptions/$TX" -H "Authorization: Bearer $ADMIN\"""",
    "POST /agents": """AG=$(curl -s -X POST "$API/agents" -H "Authorization: Bearer $ADMIN" """
    """-H 'content-type: application/json' -d '{"channel":"demo","profile":"assistant","remoteUids":[1001]}' """
    """| field agentId); echo "agent $AG\"""",
    "GET /agents": """curl -s "$API/agents?channel=demo&active=true" -H "Authorization: Bearer $ADMIN\"""",
    "GET /agents/{id}": """for i in $(seq 60); do [ "$(curl -s "$API/agents/$AG" -H "Authorization: Bearer $ADMIN" """
    """| field state)" = RUNNING ] && break; sleep 0.5; done; curl -s "$API/agents/$AG" """
    """-H "Authorization: Bearer $ADMIN\"""",
    "POST /agents/{id}/speak": """curl -s -X POST "$API/agents/$AG/speak" -H "Authorization: Bearer $ADMIN" """
    """-H 'content-type: application/json' -d '{"text":"Welcome to the demo channel."}'""",
    "POST /agents/{id}/interrupt": """curl -s -X POST "$API/agents/$AG/interrupt" """
    """-H "Authorization: Bearer $ADMIN\"""",
    "DELETE /agents/{id}": """curl -s -X DELETE "$API/agents/$AG" -H "Authorization: Bearer $ADMIN\"""",
    "GET /projects": """curl -s "$API/projects" -H "Authorization: Bearer $OWNER\"""",
    "GET /projects/{project}": """curl -s "$API/projects/$APP_ID" -H "Authorization: Bearer $OWNER\"""",
    "PUT /projects/{project}/status": """curl -s -X PUT "$API/projects/$APP_ID/status" """
    """-H "Authorization: Bearer $OWNER" -H 'content-type: application/json' -d '{"enabled":true}'""",
    "GET /projects/{project}/usage": """curl -s "$API/projects/$APP_ID/usage?from_date=$FROM&to_date=$TO" """
    """-H "Authorization: Bearer $OWNER\"""",
    "POST /projects/{project}/certificate/reset": """curl -s -X POST "$API/projects/$APP_ID/certificate/reset" """
    """-H "Authorization: Bearer $OWNER" -H 'content-type: application/json' -d "{\\"confirm\\":\\"$APP_ID\\"}\"""",
    "POST /projects/{project}/certificate/sync": """curl -s -X POST "$API/projects/$APP_ID/certificate/sync" """
    """-H "Authorization: Bearer $OWNER\"""",
    "POST /webhooks/agora": """curl -s -X POST "$API/webhooks/agora" -H 'content-type: application/json' """
    """-H "Agora-Signature-V2: $(printf %s "$NOTICE" | .venv/bin/python -m agorakit ncs sign --only v2 -)" """
    """-d "$NOTICE\"""",
}

#: plain calls end their output with a newline, so each answer reads on its own line
ROUTE_STEPS = {
    k: v if "| field" in v else v.replace("curl -s ", "curl -s -w '\\n' ", 1) for k, v in ROUTE_STEPS.items()
}

_WAIT_RECORDING = (
    """for i in $(seq 120); do [ "$(curl -s "$API/recordings/$REC" -H "Authorization: Bearer $ADMIN" """
    """| field status)" = RECORDING ] && break; sleep 0.5; done; echo "recording $REC is RECORDING\""""
)
_NOTICE = {"noticeId": "banner-1", "productId": 1, "eventType": 101, "notifyMs": 1700000000000,
           "payload": {"channelName": "demo", "ts": 1700000000}}  # fmt: skip


def walkthrough(runtime: Any) -> list[str]:
    """The copy-paste session: shell lines (comments start with #), in an order where each one succeeds."""
    step = ROUTE_STEPS
    routes = {r.route_key for r in runtime.stack.routes}
    lines = [
        f"API={runtime.api_url}; EMU={runtime.emulator_url}",
        "field() { python3 -c 'import sys,json; print(json.load(sys.stdin)[sys.argv[1]])' \"$1\"; }",
        'token() { curl -s -X POST "$API/local/token" -d "{\\"username\\":\\"$1\\"}" | field id_token; }',
        "HOST=$(token host-1); ADMIN=$(token admin)   # ID tokens of the local issuer: a host and an admin",
        "# tokens (any signed-in user; hosts may publish)",
        step["POST /tokens"],
        step["POST /tokens/rtm"],
        "# a host joins channel demo on the emulated Agora",
        """curl -s -w '\\n' -X POST "$EMU/emulator/channels/demo/join" -d '{"uid":1001,"role":"host"}'""",
        "# channels and kicking rules (admins only)",
        step["GET /channels"],
        step["GET /channels/{name}/users"],
        step["GET /channels/{name}/users/{uid}"],
        step["GET /channels/{name}/hosts"],
        step["POST /channels/{name}/kick"],
        step["POST /kicking-rules"],
        step["GET /kicking-rules"],
        step["PUT /kicking-rules/{id}"],
        step["DELETE /kicking-rules/{id}"],
        "# where Agora's webhooks come from (for a firewall allow-list; refresh daily)",
        step["GET /ncs/ips"],
        "# cloud recording (admins only): start, wait until Agora records, change it, stop",
        step["POST /recordings"],
        step["GET /recordings"],
        _WAIT_RECORDING,
        step["GET /recordings/{id}"],
        "# its playlist, each segment a presigned URL of the (private) bucket: paste it into an HLS player",
        step["GET /recordings/{id}/playlist"],
        "# its screenshots (none here: a mix recording; start one with mode individual and snapshot_config)",
        step["GET /recordings/{id}/snapshots"],
        step["POST /recordings/{id}/layout"],
        step["POST /recordings/{id}/update"],
        "# live transcription (admins only): captions and transcript beside the recording, a translation added",
        step["POST /transcriptions"],
        step["GET /transcriptions"],
        step["GET /transcriptions/{id}"],
        step["PATCH /transcriptions/{id}"],
        step["DELETE /transcriptions/{id}"],
        step["GET /recordings/{id}/captions"],
        step["GET /transcriptions/{id}/captions"],
        "# a Conversational AI agent (admins): the 'assistant' profile's vendor keys stay in Secrets Manager",
        step["POST /agents"],
        step["GET /agents"],
        step["GET /agents/{id}"],
        step["POST /agents/{id}/speak"],
        step["POST /agents/{id}/interrupt"],
        step["DELETE /agents/{id}"],
        step["POST /recordings/{id}/stop"],
        "# a webhook signed like Agora signs it, with this stack's NCS secret",
        f"export NCS_SECRET={shlex.quote(runtime.secrets.ncs_secret)}",
        f"NOTICE={shlex.quote(json.dumps(_NOTICE, separators=(',', ':')))}",
        step["POST /webhooks/agora"],
        "# the Agora project itself (owners only): read, usage of the last week, rotate the App Certificate",
        f"OWNER=$(token owner); APP_ID={runtime.app_id}",
        "FROM=$(python3 -c 'import datetime as d; print(d.date.today() - d.timedelta(days=7))'); "
        "TO=$(python3 -c 'import datetime as d; print(d.date.today())')",
        step["GET /projects"],
        step["GET /projects/{project}"],
        step["PUT /projects/{project}/status"],
        step["GET /projects/{project}/usage"],
        step["POST /projects/{project}/certificate/reset"],
        step["POST /projects/{project}/certificate/sync"],
    ]
    # a route added to the stack without a walkthrough line still gets a line (and fails the banner test)
    for key in sorted(routes - set(ROUTE_STEPS)):
        lines.append(f"# {key}: no walkthrough line yet")
    return [line for line in lines if _route_of(line) is None or _route_of(line) in routes]


def _route_of(line: str) -> str | None:
    return next((key for key, value in ROUTE_STEPS.items() if value == line), None)


def banner(runtime: Any) -> str:
    stack, url = runtime.stack, runtime.api_url
    pumps = runtime.pumps.describe() if runtime.pumps else []
    kinds = [p.split(":", 1)[0].removesuffix("s") for p in pumps]
    pump_text = ", ".join(f"{kinds.count(k)} {k}{'s' if kinds.count(k) > 1 else ''}" for k in dict.fromkeys(kinds))
    lines = [
        "",
        "agora-serverless local stack is running (loopback only). Ctrl-C stops it.",
        f"  API (API Gateway HTTP API, payload v2):  {url}",
    ]
    if runtime.web_url:
        lines.append(f"  Web example (sign in, tokens, renewal):  {runtime.web_url}/")
    lines += [
        f"  Swagger UI:                              {url}/docs   (OpenAPI: {url}/openapi.json)",
        f"  AWS (moto server):                       {runtime.moto_url}",
        f"  Agora emulator:                          {runtime.emulator_url if runtime.emulator else 'NOT RUNNING'}"
        + (f"   (REST: {runtime.secrets.customer_id} / {runtime.secrets.customer_secret})" if runtime.emulator else ""),
        f"  CORS origins allowed:                    {', '.join(runtime.cors_origins) or 'none'}",
        *_events_lines(runtime, url),
        f"  functions: {len(stack.functions)}, routes: {len(stack.routes)}, "
        f"state machines: {len(stack.state_machines)}, pumps: {pump_text or 'none'}",
    ]
    real = getattr(runtime, "real_agora", None)
    if real is not None:
        rest = ", ".join(real.rest_base_urls) or "Agora's global hosts"
        lines.append(
            f"  Agora: real Agora mode, App ID {runtime.app_id}; REST: "
            + (rest if real.has_rest else "none (no AGORA_CUSTOMER_ID/SECRET: tokens only)")
        )
        lines.append(
            "  ! recording start is refused in real Agora mode (Agora cannot upload to the S3 on 127.0.0.1); "
            "the lines below that call the emulator do not apply"
        )
    elif runtime.emulator_error:
        lines.append(f"  ! {runtime.emulator_error}")
    state = getattr(runtime, "state", None)
    if state is not None:
        restored = getattr(runtime, "restored", {})
        lines.append(
            f"  State kept in:                           {state.path}"
            + (f"   (restored {restored['items']} items, {restored['objects']} objects)" if restored else "")
        )
    lines.append(f"  Health:                                  {url}/health")
    if runtime.unseeded:
        names = ", ".join(f"{n} ({v})" for n, v in runtime.unseeded.items())
        lines.append(f"  ! secrets without a local value (functions reading them will fail): {names}")
    if runtime.identity is not None:
        users = ", ".join(f"{u.username} [{' '.join(u.groups) or '-'}]" for u in runtime.identity.users.values())
        lines += ["", f"Local users: {users}"]
    lines += ["", "Copy and paste, top to bottom (bash or zsh; each line works against this stack):"]
    lines += ["  " + line for line in walkthrough(runtime)]
    if runtime.pumps and runtime.pumps.schedules and stack.schedules:
        lines += ["", "Schedules (run one now):"]
        for spec in stack.schedules:
            lines.append(f"  curl -s -X POST {url}/local/schedules/{spec.logical_id}   # {spec.expression}")
    return "\n".join(lines) + "\n"


def _events_lines(runtime: Any, url: str) -> list[str]:
    """Where the bus's events are (docs/events.md), and where they are forwarded."""
    events = getattr(runtime, "events", None)
    if events is None:
        return []
    line = f"  Events (EventBridge envelopes):          {url}/local/events?after=0&wait=10   (next: after=<cursor>)"
    forwarder = events.forwarder
    return [line, f"  Events forwarded to:                     {forwarder.url}"] if forwarder else [line]


def commands(text: str) -> list[str]:
    """The walkthrough's lines out of a printed banner (what a user would paste)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("Copy and paste"):
            inside = True
            continue
        if inside:
            if not line.startswith("  "):
                break
            out.append(line[2:])
    return out
