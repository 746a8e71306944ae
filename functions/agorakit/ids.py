"""Agora's identifiers, in one place: the uid space (and how we divide it) and the channel-name rule.

- A uid is an unsigned 32-bit integer; 0 means "any uid" in a token and is never a real user.
- We divide the space: users get uids in ``USER_UID_MIN..USER_UID_MAX`` (allocated per subject), recorder
  bots in ``RECORDER_UID_MIN..MAX_UID``, so a bot is recognizable by its uid alone (presence, channel
  lists) and never collides with a user. See docs/decisions.md.
- A channel name is 1..63 bytes from Agora's 89-character set (web page recordings accept any label
  up to 1024 bytes, which is Cloud Recording's own rule and stays in ``agorakit.agora.models``).

Standard library only and import-free, so the token function's cold start can use it.
"""

from __future__ import annotations

# typing costs cold start in the token function (it pulls in re, enum, collections): annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

MAX_UID: Final = 2**32 - 1
#: below this, uids are left to the app's own schemes (and 0 is "any uid")
USER_UID_MIN: Final = 1_000
USER_UID_MAX: Final = 3_999_999_999
#: uids from here up are reserved for recorder bots; users never get them
RECORDER_UID_MIN: Final = 4_000_000_000
RECORDER_UID_MAX: Final = MAX_UID
#: a uid 1..2^32-1 in decimal, no leading zero, as a JSON Schema pattern (what the OpenAPI document states)
UID_PATTERN: Final = (
    r"^(?:[1-9][0-9]{0,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}"
    r"|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])$"
)

#: The 89 characters Agora allows in channel names and string user accounts.
AGORA_CHARACTERS: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&()+-:;<=.>?@[]^_{}|~,"
#: "shorter than 64 bytes" (only ASCII is allowed, so characters == bytes)
MAX_CHANNEL_BYTES: Final = 63
#: the channel-name rule as a JSON Schema / ECMAScript pattern (what the OpenAPI document states; the same set
#: as ``AGORA_CHARACTERS``, which tests/unit/test_strict_inputs.py checks)
CHANNEL_PATTERN: Final = r"^[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,63}$"


def is_recorder_uid(uid: int | None) -> bool:
    """A uid from the range reserved for recorder bots."""
    return uid is not None and RECORDER_UID_MIN <= uid <= MAX_UID


def is_channel_name(value: object) -> bool:
    """Agora's channel-name rule: a str of 1..63 characters, all from ``AGORA_CHARACTERS``."""
    return type(value) is str and 0 < len(value) <= MAX_CHANNEL_BYTES and not value.strip(AGORA_CHARACTERS)
