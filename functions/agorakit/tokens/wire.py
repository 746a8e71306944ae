"""The byte level shared by the 007 parser and the legacy 006 module: bounds-checked reads, strict base64,
bounded inflate, and the ``ParsedToken`` base class.

Its own module so that ``parser`` (which dispatches on the version) and ``legacy`` (which parses 006) both
depend on it and not on each other.
"""

from __future__ import annotations

import binascii
import struct
import zlib
from typing import Any

from agorakit.tokens.errors import TokenParseError

MAX_TOKEN_CHARS = 64 * 1024  # real tokens are a few hundred characters
MAX_INFLATED_BYTES = 256 * 1024  # refuse zlib bombs

_U16 = struct.Struct("<H").unpack_from
_I16 = struct.Struct("<h").unpack_from
_U32 = struct.Struct("<I").unpack_from


def _text(raw: bytes) -> str:
    # Lossless for any bytes another implementation may have packed; JSON output escapes what is not UTF-8.
    return raw.decode("utf-8", "surrogateescape")


class _Reader:
    """Little-endian cursor over a decoded token body; every read is bounds-checked."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def _need(self, n: int, what: str) -> int:
        pos = self.pos
        if pos + n > len(self.buf):
            raise TokenParseError(
                f"truncated token: {what} needs {n} bytes at offset {pos}, only {len(self.buf) - pos} left"
            )
        self.pos = pos + n
        return pos

    def u16(self, what: str) -> int:
        return int(_U16(self.buf, self._need(2, what))[0])

    def i16(self, what: str) -> int:
        return int(_I16(self.buf, self._need(2, what))[0])

    def u32(self, what: str) -> int:
        return int(_U32(self.buf, self._need(4, what))[0])

    def bytes_(self, what: str) -> bytes:
        length = self.u16(f"length of {what}")
        start = self._need(length, what)
        return self.buf[start : start + length]

    def string(self, what: str) -> str:
        return _text(self.bytes_(what))

    def privileges(self, what: str) -> dict[int, int]:
        count = self.u16(f"{what} privilege count")
        result: dict[int, int] = {}
        for _ in range(count):
            key = self.u16(f"{what} privilege id")
            result[key] = self.u32(f"{what} privilege {key}")
        return result

    def rest(self) -> bytes:
        rest = self.buf[self.pos :]
        self.pos = len(self.buf)
        return rest


def decode_base64(text: str, what: str) -> bytes:
    """Standard base64, canonical (so flipping unused padding bits is not a second spelling of one token)."""
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        hint = ""
        if "%" in text:
            hint = " (it looks URL-encoded: decode it first)"
        elif " " in text:
            hint = " (a space may be a '+' lost to URL decoding)"
        elif "-" in text or "_" in text:
            hint = " (it looks like URL-safe base64; Agora tokens use the standard alphabet)"
        raise TokenParseError(f"{what} is not valid base64: {exc}{hint}") from None
    if binascii.b2a_base64(raw, newline=False) != text.encode("ascii"):
        raise TokenParseError(f"{what} is not canonical base64 (non-zero padding bits)")
    return raw


def inflate(data: bytes) -> bytes:
    """Any zlib stream (CPython, Go, Node, C#, Dart ... all compress the same payload differently)."""
    decompressor = zlib.decompressobj()
    try:
        body = decompressor.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise TokenParseError(f"the token body is not a valid zlib stream ({exc})") from None
    if decompressor.unconsumed_tail:
        raise TokenParseError(f"the token body inflates to more than {MAX_INFLATED_BYTES} bytes")
    if not decompressor.eof:
        raise TokenParseError("the token body is a truncated zlib stream")
    if decompressor.unused_data:
        raise TokenParseError(f"{len(decompressor.unused_data)} unexpected bytes follow the zlib stream")
    return body


class ParsedToken:
    """A parsed token of either version; ``to_dict()`` is what ``agorakit token inspect`` prints."""

    __slots__ = ()
    version: str
    app_id: str
    signature: bytes

    @property
    def expires_at(self) -> int:
        """Unix time the token stops working."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def verify(self, app_certificate: str, **kwargs: Any) -> bool:
        raise NotImplementedError
