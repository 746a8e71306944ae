"""NCS product 17 through the inbox processor's dispatch (service.webhooks.logic.dispatch_notice) into the agent
use cases: the emulator's 101/110/103/102, delivered twice and in reverse order, end the agent FAILED with its
history kept; without an applier, product 17 is skipped, never an error."""

from __future__ import annotations

import random
from typing import Any

from agorakit.agora.convoai import ConvoAIClient
from service.agents import usecases
from service.agents.fakes import InMemoryAgentStore, InMemoryHistory, RecordedEvents
from service.agents.profiles import parse_profiles
from service.channeltasks import lifecycle
from service.presence.repository import DynamoDBPresence
from service.webhooks.logic import dispatch_notice
from service.webhooks.settings import ProcessorSettings

from tests.integration._emulator_fixtures import make_client, make_emulator, wait_until
from tests.integration.test_agents_usecases import PROFILES, Secrets
from tests.integration.test_emulator_convoai import CERT, token


def _dispatch(notice: dict[str, Any], agents: Any) -> str:
    settings = ProcessorSettings(presence_table="presence")
    presence = DynamoDBPresence("presence")  # product 17 never touches presence
    _, outcome = dispatch_notice(notice, presence=presence, recordings=None, settings=settings, now=0.0,
                                 agents=agents)  # fmt: skip
    return outcome


def test_product_17_reaches_the_agent_in_any_order() -> None:
    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emu, make_client([emu.url]) as agora:
        emu.join("room", 1001)
        deps = usecases.AgentDeps(store=InMemoryAgentStore(), agora=ConvoAIClient(agora), history=InMemoryHistory(),
                                  events=RecordedEvents(), profiles=parse_profiles(PROFILES), mint_token=token,
                                  secrets=Secrets(), rng=random.Random(9), sleep=lambda s: None)  # fmt: skip
        record = usecases.start_agent(
            usecases.parse_start({"channel": "room", "profile": "tutor", "remoteUids": [1001]}, requested_by="a",
                                 deps=deps), deps)  # fmt: skip
        assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
        emu.configure_agents(agent_turn_seconds=0.2)
        assert wait_until(lambda: emu.agents_state()["agents"][0]["turns"] >= 2)
        assert record.agora_agent_id is not None
        emu.world.agent_fail_now(record.agora_agent_id, "tts vendor 401")
        notices = [e for e in emu.events() if e["productId"] == 17]
        applier = usecases.event_applier(deps)
        outcomes = [_dispatch(n, applier) for n in [*reversed(notices), *notices]]
        assert all(o.startswith("agent: ") for o in outcomes)
        assert any("ignored" in o for o in outcomes)  # the late 101 and the repeats
        final = usecases.get_agent(record.agent_id, deps)
        assert final.state == lifecycle.FAILED and final.history_turns >= 2
        assert _dispatch(notices[0], None) == "skipped: no agents deployed"
