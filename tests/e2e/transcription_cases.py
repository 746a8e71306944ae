"""Live transcription end to end through the local stack (``LocalRuntime``, what ``make run`` serves): HTTP to the
local API (JWT, the real handlers, the restart workflow in moto), Agora's Real-Time STT from the emulator, NCS
product 20 from the emulator to the real webhook intake over HTTP (duplicated and reordered), captions written by
the emulator into the local bucket. Run in a child process by ``test_local_stack_e2e.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.run import LocalRuntime
from tests.e2e.hostile_cases import CONTEXT, WAIT, api, emulator, join, local_stack, wait

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with local_stack(emulator_options={"time_scale": 20.0, "seed": 2025}, context=CONTEXT) as rt:
        yield rt


def agents(rt: LocalRuntime, channel: str) -> list[dict]:
    state = emulator(rt, "GET", "/emulator/stt")
    return [a for a in state["agents"] if a["channel"] == channel]


def test_an_ambiguous_start_with_hostile_ncs_runs_one_agent_and_keeps_its_captions(runtime: LocalRuntime) -> None:
    channel = "e2e-captions"
    join(runtime, channel)
    emulator(runtime, "POST", "/emulator/webhooks", {"duplicates": 0.5, "reorder": 0.5})
    emulator(runtime, "POST", "/emulator/faults", {"script": ["504_after@stt.join"]})
    body = {"channel": channel, "languages": ["en-US"], "translation": [{"source": "en-US", "targets": ["de-DE"]}]}
    status, started = api(runtime, "POST", "/transcriptions", body)
    assert status == 201, started
    tid = started["id"]
    wait("RUNNING from NCS", lambda: api(runtime, "GET", f"/transcriptions/{tid}")[1]["status"] == "RUNNING")
    assert [a["agent_id"] for a in agents(runtime, channel)] == [started["agent_id"]]  # adopted, not repeated
    wait("a few cues", lambda: agents(runtime, channel)[0]["cues"] >= 2)
    status, patched = api(runtime, "PATCH", f"/transcriptions/{tid}", {"languages": ["en-US", "es-ES"]})
    assert status == 200 and patched["sequence_id"] == 0
    assert api(runtime, "DELETE", f"/transcriptions/{tid}")[0] == 200
    final = wait("the files from NCS", lambda: (t := api(runtime, "GET", f"/transcriptions/{tid}")[1])["files"] and t,
                 timeout=WAIT)  # fmt: skip
    assert final["status"] == "STOPPED"
    assert sorted(f.rsplit("_", 1)[-1] for f in final["files"]) == [
        "de-DE.vtt",
        "en-US.vtt",
        "es-ES.vtt",
        "transcript.json",
    ]
    assert all(f.startswith(f"transcripts/{channel.replace('-', '')}") for f in final["files"]), final["files"]
    assert not [a for a in agents(runtime, channel) if a["status"] not in ("STOPPED", "FAILED")]
    assert emulator(runtime, "GET", "/emulator/stt")["overlaps"] == []
