"""acquire's region / excludeResourceIds / startParameter and start's snapshotConfig, client against the emulator."""

from __future__ import annotations

import pytest
from agorakit.agora.errors import AgoraError

from tests.integration._emulator_fixtures import make_client, make_emulator, storage


@pytest.fixture(scope="module")
def emu():
    emulator = make_emulator(qps=1000).start()
    yield emulator
    emulator.stop()


def test_acquire_takes_region_exclusions_and_a_start_parameter(emu) -> None:
    client = make_client([emu.url])
    first = client.acquire("room", 11)
    start = client.start_body("room", 12, "individual", token=None, storage_config=storage(),
                              snapshot_config={"captureInterval": 5, "fileType": ["jpg"]})  # fmt: skip
    second = client.acquire(
        "room", 12, region="EU", exclude_resource_ids=[first], start_parameter=start["clientRequest"]
    )
    assert second != first
    sid = client.start(second, "room", 12, "individual", token=None, storage_config=storage(),
                       snapshot_config={"captureInterval": 5, "fileType": ["jpg"]}).sid  # fmt: skip
    assert emu.task(sid)["mode"] == "individual"


def test_screenshots_in_mix_mode_or_out_of_range_are_refused(emu) -> None:
    client = make_client([emu.url])
    body = client.start_body("room2", 21, "individual", token=None, storage_config=storage())
    for mode, snapshot in (("mix", {"captureInterval": 10}), ("individual", {"captureInterval": 4})):
        rid = client.acquire("room2", 21)
        body["clientRequest"]["snapshotConfig"] = snapshot
        with pytest.raises(AgoraError) as err:
            client._call("start", "POST", client._task_path(rid, None, mode, "start"), body=body)
        assert err.value.code == 2
