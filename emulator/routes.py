"""The emulator's routes: Agora's REST paths to ``World`` calls, and the control API under ``/emulator/``."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

from emulator import stt
from emulator.convoai import PREFIX as CONVOAI_PREFIX
from emulator.convoai import convo_error
from emulator.model import gateway_error

if TYPE_CHECKING:
    from emulator.server import Emulator

NO_ROUTE = "no Route matched with those values"


def api_route(  # noqa: PLR0911, PLR0912 - one branch per Agora path, as in Agora's reference
    emu: Emulator, method: str, seg: list[str], query: dict[str, list[str]]
) -> tuple[str | None, Any]:
    """(operation name, callable(body) -> (status, body)) for an API path; (None, None) if unknown."""
    world = emu.world
    n = len(seg)
    if n >= 4 and seg[0] == "v1" and seg[1] == "apps" and seg[3] == "cloud_recording":
        if seg[2] != emu.app_id:
            raise gateway_error(400, "appid is invalid")
        tail = seg[4:]
        if tail == ["acquire"] and method == "POST":
            return "acquire", lambda b: (200, _locked(emu, world.acquire, b))
        is_start = len(tail) == 5 and tail[0] == "resourceid" and tail[2] == "mode" and tail[4] == "start"
        if is_start and method == "POST":
            return "start", lambda b: _locked(emu, world.start, tail[1], tail[3], b)
        if len(tail) == 7 and tail[0] == "resourceid" and tail[2] == "sid" and tail[4] == "mode":
            rid, sid, mode, action = tail[1], tail[3], tail[5], tail[6]
            if action == "query" and method == "GET":
                return "query", lambda b: (200, _locked(emu, world.query, rid, sid, mode))
            if action == "update" and method == "POST":
                return "update", lambda b: (200, _locked(emu, world.update, rid, sid, mode, b))
            if action == "updateLayout" and method == "POST":
                return "updateLayout", lambda b: (200, _locked(emu, world.update_layout, rid, sid, mode, b))
            if action == "stop" and method == "POST":
                return "stop", lambda b: emu._stop(rid, sid, mode, b)
        return None, None
    if seg[:3] == ["dev", "v1", "kicking-rule"] and n == 3:
        if method == "POST":
            return "kicking_rule.create", lambda b: (200, _locked(emu, world.create_rule, b))
        if method == "GET":
            appid = next(iter(query.get("appid") or []), None)
            return "kicking_rule.list", lambda b: (200, _locked(emu, world.list_rules, appid))
        if method == "PUT":
            return "kicking_rule.update", lambda b: (200, _locked(emu, world.update_rule, b))
        if method == "DELETE":
            return "kicking_rule.delete", lambda b: (200, _locked(emu, world.delete_rule, b))
    if seg[:3] == ["dev", "v1", "channel"] and method == "GET":
        if n == 4:
            _check_app(emu, seg[3])
            page_no = _int_param(query, "page_no", 0)
            page_size = _int_param(query, "page_size", 100)
            return "channel.list", lambda b: (200, _locked(emu, world.list_channels, page_no, page_size))
        if n == 8 and seg[3] == "user" and seg[4] == "property":
            _check_app(emu, seg[5])
            if not seg[6].isdigit() or not 1 <= int(seg[6]) <= 2**32 - 1:
                raise gateway_error(400, "uid must be an integer")
            uid, cname = int(seg[6]), seg[7]
            return "channel.user_status", lambda b: (200, _locked(emu, world.user_property, uid, cname))
        if n in (6, 7) and seg[3] == "user" and (n == 6 or seg[6] == "hosts_only"):
            _check_app(emu, seg[4])
            cname, hosts_only = seg[5], n == 7
            op = "channel.hosts" if hosts_only else "channel.users"
            return op, lambda b: (200, _locked(emu, world.channel_users, cname, hosts_only))
    if seg[:4] == ["api", "speech-to-text", "v1", "projects"] and n >= 6:  # Real-Time STT v7 (stt.py)
        return stt.route(emu, method, seg[4:], query)
    if seg[:4] == CONVOAI_PREFIX and n >= 6:  # Conversational AI Engine v2 (emulator/convoai.py)
        if seg[4] != emu.app_id:
            raise convo_error(400, "InvalidRequest", "invalid appid")
        return convoai_route(emu, method, seg[5:], query)
    if seg in (["v1", "ncs", "ip"], ["v2", "ncs", "ip"]) and method == "GET":
        return "ncs.ip", lambda b: (200, {"data": {"service": {"hosts": [{"primaryIP": "127.0.0.1"}]}}})
    return None, None


def convoai_route(  # noqa: PLR0911 - one branch per path of Agora's reference
    emu: Emulator, method: str, tail: list[str], query: dict[str, list[str]]
) -> tuple[str | None, Any]:
    """The Conversational AI paths after ``/projects/{appid}/``."""
    world = emu.world
    if tail == ["join"] and method == "POST":
        return "agent.join", lambda b: (200, _locked(emu, world.agent_join, b))
    if tail == ["agents"] and method == "GET":
        return "agent.list", lambda b: (200, _locked(emu, world.agent_list, query))
    if len(tail) == 2 and tail[0] == "agents" and method == "GET":
        return "agent.query", lambda b: (200, _locked(emu, world.agent_query, tail[1]))
    if len(tail) == 3 and tail[0] == "agents":
        agent_id, action = tail[1], tail[2]
        if action == "history" and method == "GET":
            return "agent.history", lambda b: (200, _locked(emu, world.agent_history_call, agent_id))
        if method == "POST" and action == "leave":
            return "agent.leave", lambda b: (200, _locked(emu, world.agent_leave, agent_id))
        if method == "POST" and action == "update":
            return "agent.update", lambda b: (200, _locked(emu, world.agent_update, agent_id, b))
        if method == "POST" and action == "speak":
            return "agent.speak", lambda b: (200, _locked(emu, world.agent_speak, agent_id, b))
        if method == "POST" and action == "interrupt":
            return "agent.interrupt", lambda b: (200, _locked(emu, world.agent_interrupt, agent_id))
    return None, None


def _check_app(emu: Emulator, appid: str) -> None:
    if appid != emu.app_id:
        raise gateway_error(400, "invalid appid")


def _locked(emu: Emulator, fn: Any, *args: Any) -> Any:
    with emu.world.lock:
        return fn(*args)


def control(  # noqa: PLR0911, PLR0912 - one branch per control path
    emu: Emulator, method: str, seg: list[str], raw: bytes
) -> tuple[int, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise gateway_error(400, "invalid JSON") from None
    if not isinstance(body, dict):
        raise gateway_error(400, "the body must be a JSON object")
    if len(seg) == 3 and seg[0] == "channels" and method == "POST" and seg[2] in ("join", "leave"):
        uid: Any = body.get("uid")
        if isinstance(uid, str) and uid.isdigit():
            uid = int(uid)
        if seg[2] == "join":
            user = emu.join(
                seg[1],
                uid,
                role=body.get("role", "host"),
                platform=int(body.get("platform", 1)),
                profile=body.get("profile"),
                ip=body.get("ip"),
                account=body.get("account"),
            )
            return 200, {"joined": True, "user": user}
        return 200, {"left": emu.leave(seg[1], uid, reason=int(body.get("reason", 1)))}
    if seg == ["channels"] and method == "GET":
        return 200, {"channels": emu.channels()}
    if seg == ["tasks"] and method == "GET":
        return 200, {"tasks": emu.tasks()}
    if len(seg) == 2 and seg[0] == "tasks" and method == "GET":
        task = emu.task(seg[1])
        if task is None:
            raise gateway_error(404, "no such task")
        return 200, task
    if seg == ["faults"] and method in ("GET", "POST"):
        try:
            return 200, emu.set_faults(**body) if method == "POST" else emu.faults.describe()
        except (TypeError, ValueError) as exc:
            raise gateway_error(400, str(exc)) from None
    if seg == ["webhooks"] and method in ("GET", "POST"):
        try:
            return 200, emu.set_webhooks(**body)  # an empty body changes nothing: a read
        except (TypeError, ValueError) as exc:
            raise gateway_error(400, str(exc)) from None
    if seg == ["history"] and method == "GET":
        history = emu.task_history()
        overlaps = [list(pair) for pair in emu.overlapping_tasks()]
        return 200, {
            "tasks": history,
            "overlaps": overlaps,
            "running": [t["sid"] for t in history if not t["ended_at"]],
        }
    if seg == ["stt"] and method in ("GET", "POST"):  # Real-Time STT: settings, agents, overlaps
        try:
            settings = emu.stt_configure(**body)
        except (TypeError, ValueError) as exc:
            raise gateway_error(400, str(exc)) from None
        return 200, {"settings": settings, "agents": emu.stt_history(), "overlaps": emu.stt_overlaps()}
    if seg[:1] == ["console"]:
        return _console_control(emu, method, seg[1:], body)
    if seg[:1] == ["agents"]:
        return _agents_control(emu, method, seg[1:], body)
    if seg == ["reset"] and method == "POST":
        emu.reset()
        return 200, {"reset": True}
    if seg == ["stats"] and method == "GET":
        return 200, emu.stats()
    if seg == ["events"] and method == "GET":
        return 200, {"events": emu.events()}
    raise gateway_error(404, NO_ROUTE)


def _console_control(emu: Emulator, method: str, seg: list[str], body: dict[str, Any]) -> tuple[int, Any]:
    """``GET /emulator/console`` (state), ``POST .../projects`` (a project made in the Console), ``POST .../usage``
    (a day's counters), ``POST .../faults`` (``{"faults": ["429", "500_after"]}``)."""
    console = emu.console
    if not seg and method == "GET":
        return 200, console.state()
    if seg == ["projects"] and method == "POST":
        if not isinstance(body.get("name"), str):
            raise gateway_error(400, "name is required")
        project = console.add_project(
            body["name"],
            customer_id=emu.customer_id,
            project_id=body.get("id"),
            vendor_key=body.get("vendor_key"),
            sign_key_enabled=bool(body.get("enable_sign_key", True)),
            status=int(body.get("status", 1)),
        )
        return 200, {"project": project}
    if seg == ["usage"] and method == "POST":
        day = date.fromisoformat(str(body.get("date")))
        console.set_usage(
            str(body.get("project_id")), day, body.get("usage") or {}, business=body.get("business", "default")
        )
        return 200, {"stored": True}
    if seg == ["faults"] and method == "POST":
        console.inject(*[str(f) for f in body.get("faults") or []])
        return 200, {"faults": console.state()["faults"]}
    raise gateway_error(404, NO_ROUTE)


def _agents_control(emu: Emulator, method: str, seg: list[str], body: dict[str, Any]) -> tuple[int, Any]:
    """``GET /emulator/agents`` (every agent, the history and overlaps), ``POST .../settings`` (hostility),
    ``POST .../{id}/recover`` and ``.../{id}/fail`` (what Agora does to an agent at random)."""
    world = emu.world
    with world.lock:
        if not seg and method == "GET":
            return 200, emu.agents_state()
        if seg == ["settings"] and method == "POST":
            return 200, world.configure_agents(**body)
        if len(seg) == 2 and method == "POST" and seg[1] in ("recover", "fail"):
            if seg[1] == "recover":
                world.agent_recover_now(seg[0])
            else:
                world.agent_fail_now(seg[0], str(body.get("reason") or "llm vendor error"))
            return 200, world.agents[seg[0]].describe()
    raise gateway_error(404, NO_ROUTE)


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise gateway_error(400, f"{name} must be an integer") from None
