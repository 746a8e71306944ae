"""Agora's recorded-file names (doc section 3.1), as the emulator writes them.

``<sid>_<cname>.m3u8`` / ``<sid>_<cname>_<utc17>.ts`` for mix and web;
``<sid>_<cname>__uid_s_<uid>__uid_e_<audio|video>.m3u8`` / ``..._<utc17>.ts`` for individual (and raw).
Special characters of the channel name become ``-`` (Agora does so in web mode; the emulator in
every mode, the safe assumption for anyone predicting names).
"""

from __future__ import annotations

import time

_SPECIAL = set("!@#$%^&*()+_.=[]{}~|,;:?<> /\\")  # Agora's list, plus path separators


def safe_cname(cname: str) -> str:
    # "_" is kept: it is in Agora's list for web mode, but the documented examples keep it in mix names.
    return "".join("-" if (ch in _SPECIAL and ch != "_") else ch for ch in cname)


def utc17(epoch_ms: int) -> str:
    """``YYYYMMDDhhmmssSSS`` in UTC."""
    seconds, millis = divmod(int(epoch_ms), 1000)
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds)) + f"{millis:03d}"


def mix_m3u8(sid: str, cname: str) -> str:
    return f"{sid}_{safe_cname(cname)}.m3u8"


def mix_ts(sid: str, cname: str, epoch_ms: int) -> str:
    return f"{sid}_{safe_cname(cname)}_{utc17(epoch_ms)}.ts"


def individual_base(sid: str, cname: str, uid: str, track: str) -> str:
    return f"{sid}_{safe_cname(cname)}__uid_s_{uid}__uid_e_{track}"


def individual_m3u8(sid: str, cname: str, uid: str, track: str) -> str:
    return individual_base(sid, cname, uid, track) + ".m3u8"


def individual_ts(sid: str, cname: str, uid: str, track: str, epoch_ms: int) -> str:
    return f"{individual_base(sid, cname, uid, track)}_{utc17(epoch_ms)}.ts"


def object_key(prefix: list[str], name: str) -> str:
    return "/".join([*prefix, name]) if prefix else name


#: the emulated recording's media: silent AAC-LC audio, mono, 48 kHz (one ADTS frame = 1024 samples)
TS_AUDIO_RATE = 48_000
TS_PMT_PID, TS_AUDIO_PID = 0x1000, 0x0100
TS_PES_FRAMES = 47  # about one second of audio per PES packet
#: one AAC-LC raw data block of silence: a mono channel element with no scale factor band (every spectral
#: coefficient zero), then END: 000 0000 (SCE, tag 0), global gain 0, ics_info 0..0, no pulse/TNS/gain, 111
SILENT_AAC_BLOCK = b"\x00\x00\x00\x07"


def _crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _psi_packet(pid: int, section: bytes) -> bytes:
    section += _crc32_mpeg(section).to_bytes(4, "big")
    payload = (b"\x00" + section).ljust(184, b"\xff")  # pointer field 0, then stuffing
    return bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, 0x10]) + payload


def _adaptation(flags: bytes, size: int) -> bytes:
    """An adaptation field of exactly ``size`` bytes, its length byte included: ``flags`` (and PCR), then stuffing."""
    if size <= 1:
        return b"\x00" * size
    return bytes([size - 1]) + (flags or b"\x00").ljust(size - 1, b"\xff")


def _ts_packets(pid: int, pes: bytes, pcr: int, counter: int) -> tuple[list[bytes], int]:
    """One PES split into 188-byte packets: PCR in the first one's adaptation field, stuffing in the last one's."""
    packets: list[bytes] = []
    first = True
    while pes:
        flags = b""
        if first:
            flags = b"\x10" + bytes([pcr >> 25 & 0xFF, pcr >> 17 & 0xFF, pcr >> 9 & 0xFF, pcr >> 1 & 0xFF])
            flags += bytes([(pcr & 1) << 7 | 0x7E, 0])
        chunk, pes = pes[: 184 - (len(flags) + 1 if flags else 0)], pes[184 - (len(flags) + 1 if flags else 0) :]
        adaptation = _adaptation(flags, 184 - len(chunk))
        control = 0x30 if adaptation else 0x10
        header = bytes([0x47, (0x40 if first else 0) | pid >> 8, pid & 0xFF, control | counter & 0x0F])
        packets.append(header + adaptation + chunk)
        counter += 1
        first = False
    return packets, counter


def _pts(value: int) -> bytes:
    return bytes([
        0x21 | (value >> 29 & 0x0E), value >> 22 & 0xFF, 0x01 | (value >> 14 & 0xFE), value >> 7 & 0xFF,
        0x01 | (value << 1 & 0xFE),
    ])  # fmt: skip


def fake_ts(duration: float, start: float = 0.0) -> bytes:
    """A playable MPEG-TS segment of ``duration`` seconds of silence (AAC-LC in ADTS, PAT + PMT first), whose
    timestamps start ``start`` seconds into the recording, so a player plays the segments one after the other."""
    pat = b"\x00\xb0\x0d\x00\x01\xc1\x00\x00\x00\x01" + bytes([0xE0 | TS_PMT_PID >> 8, TS_PMT_PID & 0xFF])
    pmt = (
        b"\x02\xb0\x12\x00\x01\xc1\x00\x00" + bytes([0xE0 | TS_AUDIO_PID >> 8, TS_AUDIO_PID & 0xFF]) + b"\xf0\x00"
        + bytes([0x0F, 0xE0 | TS_AUDIO_PID >> 8, TS_AUDIO_PID & 0xFF, 0xF0, 0x00])
    )  # fmt: skip
    length = 7 + len(SILENT_AAC_BLOCK)  # ADTS: MPEG-4, no CRC, AAC LC, 48 kHz (index 3), mono
    adts = bytes([0xFF, 0xF1, 0x4C, 0x40 | length >> 11, length >> 3 & 0xFF, (length & 7) << 5 | 0x1F, 0xFC])
    frame = adts + SILENT_AAC_BLOCK
    frames = max(1, round(duration * TS_AUDIO_RATE / 1024))
    ticks = 1024 * 90_000 // TS_AUDIO_RATE
    base = round((start + 1.0) * 90_000)  # one second of headroom before the first PTS
    out = [_psi_packet(0, pat), _psi_packet(TS_PMT_PID, pmt)]
    counter = 0
    for first in range(0, frames, TS_PES_FRAMES):
        count = min(TS_PES_FRAMES, frames - first)
        pts = base + first * ticks
        body = b"\x80\x80\x05" + _pts(pts) + frame * count
        pes = b"\x00\x00\x01\xc0" + len(body).to_bytes(2, "big") + body
        packets, counter = _ts_packets(TS_AUDIO_PID, pes, pts - 9_000, counter)
        out.extend(packets)
    return b"".join(out)


def snapshot_jpg(sid: str, cname: str, uid: str, epoch_ms: int) -> str:
    """A screenshot: ``<sid>_<cname>__uid_s_<uid>__uid_e_video_<utc17>.jpg`` (doc section 3.1)."""
    return f"{individual_base(sid, cname, uid, 'video')}_{utc17(epoch_ms)}.jpg"


def fake_jpg(comment: str) -> bytes:
    """A baseline JFIF JPEG of one 8x8 mid-grey block (one-symbol Huffman tables: DC category 0, EOB),
    with ``comment`` in a COM segment so that every screenshot's bytes differ."""
    text = comment.encode()[:200]
    count = bytes([1] + [0] * 15)  # one code of length 1 in each table
    return b"".join(
        [
            b"\xff\xd8",  # SOI
            b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",  # APP0
            b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text,  # COM
            b"\xff\xdb\x00\x43\x00" + b"\x01" * 64,  # DQT: table 0, all ones
            b"\xff\xc0\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x11\x00",  # SOF0: 8x8, one component
            b"\xff\xc4\x00\x14\x00" + count + b"\x00",  # DHT: DC table 0, symbol 0 (category 0)
            b"\xff\xc4\x00\x14\x10" + count + b"\x00",  # DHT: AC table 0, symbol 0x00 (EOB)
            b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00",  # SOS
            b"\x3f",  # DC "0" + EOB "0", padded with ones
            b"\xff\xd9",  # EOI
        ]
    )
