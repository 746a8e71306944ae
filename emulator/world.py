"""The emulated Agora backend: one ``World`` made of its parts.

Behaviour follows Agora's Cloud Recording, NCS and channel-management documentation: resource IDs
expire (433) and serve one start (201/7); one task per (cname, uid) (53); query status values; idle
exit after ``maxIdleTime`` (events 41/11/31); stop gives the file list or 206/435; 49 while
exiting, then 404. Every public method expects the caller to hold ``World.lock``.
"""

from __future__ import annotations

from typing import Any

from emulator.base import WorldBase
from emulator.cdn import CdnMixin
from emulator.channels import ChannelsMixin
from emulator.convoai import ConvoAIMixin
from emulator.model import ApiError, EmuClock, gateway_error, rec_error
from emulator.postponed import PostponedMixin
from emulator.recording import RecordingMixin
from emulator.rules import RulesMixin
from emulator.segments import SegmentsMixin


class World(
    ConvoAIMixin, PostponedMixin, ChannelsMixin, RulesMixin, RecordingMixin, SegmentsMixin, CdnMixin, WorldBase
):
    """Channels and users, kicking rules, recording tasks, segments and uploads, postponed transcoding
    (scene 2), CDN push of web recordings, Conversational AI agents, sharing one state."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._agents_init()


__all__ = ["ApiError", "EmuClock", "World", "gateway_error", "rec_error"]
