"""Settings of the token function, read once at cold start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.settings import FunctionSettings


class TokenSettings(FunctionSettings):
    agora_app_id: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    app_certificate_secret_name: str
    users_table: str
    groups_claim: str = "cognito:groups"
    publisher_group: str = "hosts"
    #: what a caller outside the publisher group gets when asking for a publisher token
    publisher_denied: Literal["forbid", "downgrade"] = "forbid"
    token_default_ttl: int = Field(default=3600, ge=1, le=86400)
    #: how long the app certificate is reused before Secrets Manager is read again: a rotated certificate is
    #: picked up within this time (see docs/decisions.md)
    secret_cache_seconds: float = Field(default=300, ge=0)
    #: the certificate is signed with only while its version was confirmed current (DescribeSecret) within
    #: this many seconds; 0 confirms on every token. The rotation waits this long (plus a margin) before it
    #: answers, so no token is signed with the old certificate after the answer (docs/projects.md)
    certificate_check_seconds: float = Field(default=1.0, ge=0, le=10)
    #: subjects whose uid the container remembers (a uid never changes once allocated; 0 turns it off)
    uid_cache_entries: int = Field(default=10_000, ge=0)
