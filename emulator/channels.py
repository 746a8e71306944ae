"""Channels and their users: join and leave with NCS RTC events (101-112), and the channel-management reads."""

from __future__ import annotations

import uuid
from typing import Any

from emulator.base import WorldBase
from emulator.model import CNAME_RE, LEAVE_INIT_FAILED, MAX_UID, ApiError, Channel, User, gateway_error


class ChannelsMixin(WorldBase):
    def join(
        self,
        cname: str,
        uid: int,
        *,
        role: str = "host",
        platform: int = 1,
        profile: str | None = None,
        ip: str | None = None,
        account: str | None = None,
        client_type: int | None = None,
        bot: bool = False,
    ) -> dict[str, Any]:
        self._check_join(cname, uid, role, ip, bot=bot)
        now = self.clock.now()
        channel = self.channels.get(cname)
        if channel is None:
            wanted = profile or ("communication" if role == "communication" else "live")
            channel = Channel(name=cname, profile=wanted, session=uuid.uuid4().hex)
            self.channels[cname] = channel
            self._rtc_event(channel, 101, {"ts": int(self.clock.epoch())})
        if channel.profile == "communication":
            role = "communication"
        elif role == "communication":
            role = "host"
        existing = channel.users.get(uid)
        if existing is not None:
            if existing.bot == bot:
                return self._change_role(channel, existing, role)
            self._leave(channel, existing, reason=5)  # same uid from another device: the older one is dropped
        if channel.name not in self.channels:  # the reason-5 leave emptied and closed it
            self.channels[cname] = channel
            self._rtc_event(channel, 101, {"ts": int(self.clock.epoch())})
        channel.closing_at = None  # a user came back before the channel closed: the same session
        user = User(
            uid=uid,
            role=role,
            platform=platform,
            joined_at=now,
            join_epoch=int(self.clock.epoch()),
            ip=ip,
            account=account,
            client_type=client_type,
            bot=bot,
        )
        channel.users[uid] = user
        event = {"host": 103, "audience": 105, "communication": 107}[role]
        payload: dict[str, Any] = {
            "uid": uid,
            "platform": platform,
            "clientSeq": self._next_client_seq(cname, uid),
            "ts": int(self.clock.epoch()),
        }
        if client_type is not None:
            payload["clientType"] = client_type
        if event != 107:
            payload["account"] = account or str(uid)
        self._rtc_event(channel, event, payload)
        return user.describe()

    def _check_join(self, cname: Any, uid: Any, role: str, ip: str | None, *, bot: bool) -> None:
        if not isinstance(cname, str) or not CNAME_RE.match(cname) or len(cname.encode()) >= 64:
            raise gateway_error(400, "invalid channel name")
        if isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= MAX_UID:
            raise gateway_error(400, "uid must be an integer in 1..2^32-1")
        if role not in ("host", "audience", "communication"):
            raise gateway_error(400, "role must be host, audience or communication")
        if not bot:
            rule = self._banned(cname, uid, ip, "join_channel")
            if rule is not None:
                raise ApiError(403, {"message": "banned by a kicking rule", "rule_id": rule.id})

    def _change_role(self, channel: Channel, user: User, role: str) -> dict[str, Any]:
        """A user already in the channel joins again: a live channel's role switch (111/112), else nothing."""
        if user.role != role and channel.profile == "live":
            user.role = role
            self._rtc_event(
                channel,
                111 if role == "host" else 112,
                {
                    "uid": user.uid,
                    "clientSeq": self._next_client_seq(channel.name, user.uid),
                    "ts": int(self.clock.epoch()),
                    "account": user.account or str(user.uid),
                },
            )
        return user.describe()

    def leave(self, cname: str, uid: int, *, reason: int = 1) -> bool:
        channel = self.channels.get(cname)
        if channel is None or uid not in channel.users:
            return False
        self._leave(channel, channel.users[uid], reason=reason)
        return True

    def _leave(self, channel: Channel, user: User, *, reason: int) -> None:
        channel.users.pop(user.uid, None)
        event = {"host": 104, "audience": 106, "communication": 108}[user.role]
        payload: dict[str, Any] = {
            "uid": user.uid,
            "platform": user.platform,
            "clientSeq": self._next_client_seq(channel.name, user.uid),
            "reason": reason,
            "ts": int(self.clock.epoch()),
            "duration": int(self.clock.now() - user.joined_at),
        }
        if user.client_type is not None:
            payload["clientType"] = user.client_type
        if event != 108:
            payload["account"] = user.account or str(user.uid)
        self._rtc_event(channel, event, payload)
        if user.bot:
            for task in self.tasks.values():
                mine = task.state == "running" and task.cname == channel.name and int(task.uid) == user.uid
                if mine and reason == 3:  # the bot was kicked out: the task ends abnormally
                    self._exit(task, LEAVE_INIT_FAILED, exit_status=1, bot_leaves=False)
        if not channel.users:  # Agora closes an empty channel some 30 s later (event 102 then)
            channel.last_uid = user.uid
            channel.closing_at = self.clock.now() + self.channel_close_seconds
            if self.channel_close_seconds <= 0:
                self._close_empty_channels()

    def _close_empty_channels(self) -> None:
        now = self.clock.now()
        for channel in list(self.channels.values()):
            if channel.users or channel.closing_at is None or channel.closing_at > now:
                continue
            self.channels.pop(channel.name, None)
            self._rtc_event(channel, 102, {"ts": int(self.clock.epoch()), "lastUid": channel.last_uid})

    def channel_snapshot(self) -> list[dict[str, Any]]:
        return [
            {"cname": c.name, "profile": c.profile, "users": [u.describe() for u in c.users.values()]}
            for c in sorted(self.channels.values(), key=lambda c: c.name)
        ]

    def list_channels(self, page_no: int, page_size: int) -> dict[str, Any]:
        if not 1 <= page_size <= 500 or page_no < 0:
            raise gateway_error(400, "invalid page_no or page_size")
        names = sorted(self.channels)
        page = names[page_no * page_size : (page_no + 1) * page_size]
        channels = [{"channel_name": n, "user_count": len(self.channels[n].users)} for n in page]
        return {"success": True, "data": {"channels": channels, "total_size": len(names)}}

    def channel_users(self, cname: str, hosts_only: bool = False) -> dict[str, Any]:
        channel = self.channels.get(cname)
        if channel is None:
            return {"success": True, "data": {"channel_exist": False}}
        users = list(channel.users.values())
        if channel.profile == "communication":
            if hosts_only:
                raise gateway_error(400, "hosts_only applies to live channels")
            return {
                "success": True,
                "data": {"channel_exist": True, "mode": 1, "total": len(users), "users": [u.uid for u in users]},
            }
        hosts = [u.uid for u in users if u.role == "host"]
        if hosts_only:
            return {"success": True, "data": {"channel_exist": True, "mode": 2, "broadcasters": hosts}}
        audience = [u.uid for u in users if u.role == "audience"]
        return {
            "success": True,
            "data": {
                "channel_exist": True,
                "mode": 2,
                "broadcasters": hosts,
                "audience": audience[:10_000],
                "audience_total": len(audience),
            },
        }

    def user_property(self, uid: int, cname: str) -> dict[str, Any]:
        channel = self.channels.get(cname)
        user = channel.users.get(uid) if channel else None
        if user is None:
            return {"success": True, "data": {"in_channel": False}}
        return {
            "success": True,
            "data": {
                "join": user.join_epoch,
                "uid": uid,
                "in_channel": True,
                "platform": user.platform,
                "role": user.role_number(),
            },
        }
