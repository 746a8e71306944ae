"""The emulator's HLS segments are real MPEG-TS a player plays (the web example's <video> through hls.js):
PAT and PMT with valid CRCs, one AAC (ADTS) stream, continuity counters, PES timestamps that continue from one
segment to the next. Parsed here by hand, independently of how ``emulator.naming`` writes them."""

from __future__ import annotations

import zlib

import pytest

from emulator.naming import fake_ts


def _crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 31) ^ (byte >> bit & 1)
            crc = (crc << 1 & 0xFFFFFFFF) ^ (0x04C11DB7 if top else 0)
    return crc


def _parse(ts: bytes) -> dict:
    assert len(ts) % 188 == 0
    counters: dict[int, int] = {}
    sections: dict[int, bytes] = {}
    pes: list[bytes] = []
    for offset in range(0, len(ts), 188):
        packet = ts[offset : offset + 188]
        assert packet[0] == 0x47
        start, pid, control, counter = (
            packet[1] & 0x40,
            (packet[1] & 0x1F) << 8 | packet[2],
            packet[3] >> 4,
            packet[3] & 15,
        )
        if pid in counters:
            assert counter == (counters[pid] + 1) % 16, f"PID {pid:#x}: a continuity counter skipped"
        counters[pid] = counter
        body = packet[4:]
        if control == 3:
            body = body[1 + body[0] :]
        if pid in (0, 0x1000):
            assert start
            section = body[1 + body[0] :]
            length = (section[1] & 0x0F) << 8 | section[2]
            sections[pid] = section[: 3 + length]
        elif start:
            pes.append(body)
        else:
            pes[-1] += body
    return {"sections": sections, "pes": pes}


def _pts(header: bytes) -> int:
    b = header[9:14]
    return (b[0] >> 1 & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


@pytest.mark.parametrize(("duration", "start"), [(2.0, 0.0), (15.07, 30.2), (0.5, 4.0)])
def test_a_segment_is_pat_pmt_and_aac_with_valid_crcs(duration: float, start: float) -> None:
    parsed = _parse(fake_ts(duration, start))
    pat, pmt = parsed["sections"][0], parsed["sections"][0x1000]
    for section in (pat, pmt):
        assert _crc32_mpeg(section[:-4]) == int.from_bytes(section[-4:], "big")
    assert (pat[10] & 0x1F) << 8 | pat[11] == 0x1000  # program 1's PMT
    assert pmt[12] == 0x0F and ((pmt[13] & 0x1F) << 8 | pmt[14]) == 0x100  # AAC in ADTS on PID 0x100
    frames = 0
    first_pts = None
    for packet in parsed["pes"]:
        assert packet[:4] == b"\x00\x00\x01\xc0" and int.from_bytes(packet[4:6], "big") == len(packet) - 6
        pts = _pts(packet)
        first_pts = pts if first_pts is None else first_pts
        assert pts == first_pts + frames * 1920  # 1024 samples at 48 kHz, on the 90 kHz clock
        payload = packet[14:]
        while payload:
            assert payload[0] == 0xFF and payload[1] & 0xF6 == 0xF0  # ADTS sync, layer 0
            assert (payload[2] >> 2 & 0x0F) == 3 and (payload[2] >> 6) == 1  # 48 kHz, AAC LC
            size = (payload[3] & 3) << 11 | payload[4] << 3 | payload[5] >> 5
            payload = payload[size:]
            frames += 1
    assert frames == max(1, round(duration * 48_000 / 1024))
    assert first_pts == round((start + 1.0) * 90_000)


def test_segments_continue_each_other_and_differ() -> None:
    first, second = fake_ts(2.0, 0.0), fake_ts(2.0, 2.0)
    end_of_first = _pts(_parse(first)["pes"][0]) + 94 * 1920
    assert abs(_pts(_parse(second)["pes"][0]) - end_of_first) <= 1920  # no gap or overlap beyond one frame
    assert zlib.crc32(first) != zlib.crc32(second)
