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


def fake_ts(duration: float) -> bytes:
    """A syntactically valid MPEG-TS payload: null packets (PID 0x1FFF), a few per second of media."""
    packet = b"\x47\x1f\xff\x10" + b"\xff" * 184
    return packet * max(1, round(duration * 4))


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
