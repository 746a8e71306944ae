"""Kicking rules (``/dev/v1/kicking-rule``): a banned user is dropped (reason 3) and cannot join or publish."""

from __future__ import annotations

from typing import Any

from emulator.base import WorldBase
from emulator.model import CNAME_RE, MAX_UID, Rule, gateway_error, iso


class RulesMixin(WorldBase):
    def active_rules(self) -> list[Rule]:
        now = self.clock.now()
        for rule_id in [r.id for r in self.rules.values() if r.expires_at <= now]:
            del self.rules[rule_id]
        return list(self.rules.values())

    def _banned(self, cname: str, uid: int, ip: str | None, privilege: str) -> Rule | None:
        for rule in self.active_rules():
            if privilege in rule.privileges and rule.matches(cname, uid, ip):
                return rule
        return None

    # ------------------------------------------------------------------ channel management REST

    def _check_appid(self, appid: Any) -> None:
        if appid != self.app_id:
            raise gateway_error(400, "invalid appid")

    def rule_view(self, rule: Rule) -> dict[str, Any]:
        return {
            "id": rule.id,
            "appid": self.app_id,
            "uid": rule.uid or 0,
            "opid": 0,
            "cname": rule.cname or "",
            "ip": rule.ip or "",
            "ts": iso(self.clock.epoch(rule.expires_at)),
            "privileges": list(rule.privileges),
            "createAt": iso(rule.created_epoch),
            "updateAt": iso(rule.updated_epoch),
        }

    @staticmethod
    def _rule_seconds(body: dict[str, Any]) -> int:
        if "time_in_seconds" in body:
            value = body["time_in_seconds"]
            lo, hi, unit = 10, 86_430, 1
        elif "time" in body:
            value = body["time"]
            lo, hi, unit = 1, 1440, 60
        else:
            return 3600
        if isinstance(value, bool) or not isinstance(value, int):
            raise gateway_error(400, "time must be an integer")
        if value == 0:
            return 0
        return min(max(value, lo), hi) * unit

    def create_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_appid(body.get("appid"))
        cname = body.get("cname") or None
        uid = body.get("uid")
        ip = body.get("ip") or None
        if uid is not None and (isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= MAX_UID):
            raise gateway_error(400, "uid must be a number in 1..2^32-1")
        if cname is not None and (not isinstance(cname, str) or not CNAME_RE.match(cname)):
            raise gateway_error(400, "invalid cname")
        if cname is None and uid is None and ip is None:
            raise gateway_error(400, "one of cname, uid, ip is required")
        privileges = body.get("privileges")
        if (
            not isinstance(privileges, list)
            or not privileges
            or not set(privileges) <= {"join_channel", "publish_audio", "publish_video"}
        ):
            raise gateway_error(400, "privileges is required")
        seconds = self._rule_seconds(body)
        now = self.clock.now()
        rule = Rule(
            id=next(self._rule_ids),
            cname=cname,
            uid=uid,
            ip=ip,
            privileges=list(privileges),
            expires_at=now + seconds,
            created_epoch=self.clock.epoch(),
            updated_epoch=self.clock.epoch(),
        )
        if seconds > 0:
            self.rules[rule.id] = rule
        if "join_channel" in privileges:
            for channel in list(self.channels.values()):
                for user in list(channel.users.values()):
                    if rule.matches(channel.name, user.uid, user.ip) and channel.name in self.channels:
                        self._leave(channel, user, reason=3)
        return {"status": "success", "id": rule.id}

    def list_rules(self, appid: Any) -> dict[str, Any]:
        self._check_appid(appid)
        return {"status": "success", "rules": [self.rule_view(r) for r in self.active_rules()]}

    def update_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_appid(body.get("appid"))
        rule = self._find_rule(body.get("id"))
        seconds = self._rule_seconds(body)
        rule.expires_at = self.clock.now() + seconds
        rule.updated_epoch = self.clock.epoch()
        if seconds == 0:
            self.rules.pop(rule.id, None)
        return {"status": "success", "result": {"id": rule.id, "ts": iso(self.clock.epoch(rule.expires_at))}}

    def delete_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_appid(body.get("appid"))
        rule = self._find_rule(body.get("id"))
        self.rules.pop(rule.id, None)
        return {"status": "success", "id": rule.id}

    def _find_rule(self, rule_id: Any) -> Rule:
        if isinstance(rule_id, bool) or not isinstance(rule_id, int):
            raise gateway_error(400, "id must be a number")
        self.active_rules()
        rule = self.rules.get(rule_id)
        if rule is None:
            raise gateway_error(404, "rule not found")
        return rule
