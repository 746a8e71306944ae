"""Byte-identical to the official builder (``agoraiotools`` 0.3.4, the official python3 code repackaged) for
random inputs, with its clock and salt pinned; and the official parser reads our tokens.

agoraiotools builds services in a dict keyed by type and has no Streaming/FCDN/RTM2, so it is compared on the
services it knows, one per type (the repeated-type and 2026 services are covered by the official vectors).
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from agorakit.tokens import (
    AccessToken2,
    ApaasService,
    ChatService,
    FpaService,
    RtcService,
    RtmService,
    build_legacy_token,
    build_rtc_rtm_token,
    build_rtc_token,
    build_rtm_token,
)
from agorakit.tokens.builder import AGORA_CHARACTERS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fixtures import examples

agoraiotools = pytest.importorskip("agoraiotools")
from agoraiotools import (  # noqa: E402
    ApaasTokenBuilder,
    RtcTokenBuilder,
    RtcTokenBuilder2,
    RtmTokenBuilder,
    RtmTokenBuilder2,
)
from agoraiotools.ChatTokenBuilder2 import ChatTokenBuilder2  # noqa: E402

# The package re-exports the class AccessToken2 under the submodule's name, so take the modules from sys.modules.
OFFICIAL_007 = sys.modules["agoraiotools.AccessToken2"]
OFFICIAL_006 = sys.modules["agoraiotools.AccessToken"]
PUBLISHER, SUBSCRIBER = 1, 2

SETTINGS = settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])

hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
channels = st.text(AGORA_CHARACTERS, min_size=1, max_size=63)
accounts = st.text(AGORA_CHARACTERS, min_size=1, max_size=255)
rtm_users = st.text(AGORA_CHARACTERS, min_size=1, max_size=64).filter(lambda s: not s.startswith(" "))
uids = st.integers(0, 2**32 - 1)
expiries = st.integers(1, 86_400)
stamps = st.integers(1, 2**32 - 1)
salts = st.integers(1, 99_999_999)


@contextlib.contextmanager
def pinned(module: types.ModuleType, now: int, salt: int) -> Iterator[None]:
    """Pin the official module's ``time.time()`` and ``secrets.SystemRandom().randint`` (its only inputs
    besides the arguments) so a build is reproducible."""

    class FixedRandom:
        def randint(self, low: int, high: int) -> int:
            return salt

    saved = module.time, module.secrets  # type: ignore[attr-defined]
    module.time = types.SimpleNamespace(time=lambda: now + 0.25)  # type: ignore[attr-defined]
    module.secrets = types.SimpleNamespace(SystemRandom=FixedRandom)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.time, module.secrets = saved  # type: ignore[attr-defined]


@SETTINGS
@given(app=hex32, cert=hex32, channel=channels, uid=st.one_of(uids, accounts), publisher=st.booleans(),
       expire=expiries, privilege=expiries, now=stamps, salt=salts)  # fmt: skip
def test_rtc_matches_build_token_with_uid_and_user_account(
    *, app: str, cert: str, channel: str, uid: int | str, publisher: bool, expire: int, privilege: int, now: int,
    salt: int,
) -> None:  # fmt: skip
    role = PUBLISHER if publisher else SUBSCRIBER
    with pinned(OFFICIAL_007, now, salt):
        if isinstance(uid, int):
            official = RtcTokenBuilder2.build_token_with_uid(app, cert, channel, uid, role, expire, privilege)
        else:
            official = RtcTokenBuilder2.build_token_with_user_account(app, cert, channel, uid, role, expire, privilege)
    ours = build_rtc_token(app_id=app, app_certificate=cert, channel_name=channel, uid=uid,
                           role="publisher" if publisher else "subscriber", expire=expire, privilege_expire=privilege,
                           issue_ts=now, salt=salt)  # fmt: skip
    assert ours == official


@SETTINGS
@given(app=hex32, cert=hex32, channel=channels, uid=st.one_of(uids, accounts), expire=expiries,
       privileges=st.tuples(expiries, expiries, expiries, expiries), now=stamps, salt=salts)  # fmt: skip
def test_rtc_matches_per_privilege_builder(
    *, app: str, cert: str, channel: str, uid: int | str, expire: int, privileges: tuple[int, int, int, int],
    now: int, salt: int,
) -> None:  # fmt: skip
    # agoraiotools' build_token_with_uid_and_privilege is broken (it calls a method its alias base class lacks);
    # ..._user_account_and_privilege is the same builder and accepts an int uid too.
    with pinned(OFFICIAL_007, now, salt):
        official = RtcTokenBuilder2.build_token_with_user_account_and_privilege(
            app, cert, channel, uid, expire, *privileges
        )
    named = dict(zip(("join_channel", "publish_audio_stream", "publish_video_stream", "publish_data_stream"),
                     privileges, strict=True))  # fmt: skip
    ours = build_rtc_token(app_id=app, app_certificate=cert, channel_name=channel, uid=uid, role="publisher",
                           expire=expire, privilege_expire=named, issue_ts=now, salt=salt)  # fmt: skip
    assert ours == official


@SETTINGS
@given(app=hex32, cert=hex32, user=rtm_users, expire=expiries, now=stamps, salt=salts)
def test_rtm_matches_rtm_token_builder2(*, app: str, cert: str, user: str, expire: int, now: int, salt: int) -> None:
    with pinned(OFFICIAL_007, now, salt):
        official = RtmTokenBuilder2.build_token(app, cert, user, expire)
    assert build_rtm_token(app_id=app, app_certificate=cert, user_id=user, expire=expire, issue_ts=now, salt=salt) == (
        official
    )


@SETTINGS
@given(app=hex32, cert=hex32, channel=channels, account=rtm_users, publisher=st.booleans(), expire=expiries,
       privilege=expiries, now=stamps, salt=salts)  # fmt: skip
def test_rtc_rtm_matches_build_token_with_rtm(
    *, app: str, cert: str, channel: str, account: str, publisher: bool, expire: int, privilege: int, now: int,
    salt: int,
) -> None:  # fmt: skip
    role = PUBLISHER if publisher else SUBSCRIBER
    with pinned(OFFICIAL_007, now, salt):
        official = RtcTokenBuilder2.build_token_with_rtm(app, cert, channel, account, role, expire, privilege)
    ours = build_rtc_rtm_token(app_id=app, app_certificate=cert, channel_name=channel, uid=account,
                               role="publisher" if publisher else "subscriber", expire=expire,
                               privilege_expire=privilege, issue_ts=now, salt=salt)  # fmt: skip
    assert ours == official


@SETTINGS
@given(app=hex32, cert=hex32, channel=channels, uid=st.one_of(uids, accounts), publisher=st.booleans(),
       expire=expiries, privileges=st.tuples(expiries, expiries, expiries, expiries), user=rtm_users,
       rtm_expire=expiries, now=stamps, salt=salts)  # fmt: skip
def test_rtc_rtm_matches_build_token_with_rtm2(
    *, app: str, cert: str, channel: str, uid: int | str, publisher: bool, expire: int,
    privileges: tuple[int, int, int, int], user: str, rtm_expire: int, now: int, salt: int,
) -> None:  # fmt: skip
    role = PUBLISHER if publisher else SUBSCRIBER
    with pinned(OFFICIAL_007, now, salt):
        official = RtcTokenBuilder2.build_token_with_rtm2(app, cert, channel, uid, role, expire, *privileges, user,
                                                          rtm_expire)  # fmt: skip
    ids = (1, 2, 3, 4) if publisher else (1,)
    ours = build_rtc_rtm_token(app_id=app, app_certificate=cert, channel_name=channel, uid=uid,
                               role="publisher" if publisher else "subscriber", expire=expire,
                               privilege_expire={i: privileges[i - 1] for i in ids}, rtm_user_id=user,
                               rtm_expire=rtm_expire, issue_ts=now, salt=salt)  # fmt: skip
    assert ours == official


@SETTINGS
@given(app=hex32, cert=hex32, user=rtm_users, room=rtm_users, role=st.integers(-(2**15), 2**15 - 1),
       expire=expiries, now=stamps, salt=salts)  # fmt: skip
def test_chat_and_apaas_match_their_builders(
    *, app: str, cert: str, user: str, room: str, role: int, expire: int, now: int, salt: int
) -> None:
    with pinned(OFFICIAL_007, now, salt):
        official = [
            ChatTokenBuilder2.build_user_token(app, cert, user, expire),
            ChatTokenBuilder2.build_app_token(app, cert, expire),
            ApaasTokenBuilder.build_user_token(app, cert, user, expire),
            ApaasTokenBuilder.build_app_token(app, cert, expire),
            ApaasTokenBuilder.build_room_user_token(app, cert, room, user, role, expire),
        ]

    def token(*services: Any) -> str:
        built = AccessToken2(app, cert, expire=expire, issue_ts=now, salt=salt)
        for service in services:
            built.add_service(service)
        return built.build()

    import hashlib

    chat_user = hashlib.md5(user.encode()).hexdigest()  # noqa: S324 - the official builder's chat id, not security
    ours = [
        token(ChatService(user).add_privilege("user", expire)),
        token(ChatService().add_privilege("app", expire)),
        token(ApaasService(user_uuid=user).add_privilege("user", expire)),
        token(ApaasService().add_privilege("app", expire)),
        token(
            ApaasService(room, user, role).add_privilege("room_user", expire),
            RtmService(user).add_privilege("login", expire),
            ChatService(chat_user).add_privilege("user", expire),
        ),
    ]
    assert ours == official


@SETTINGS
@given(app=hex32, cert=hex32, channel=channels, uid=st.one_of(uids, accounts), expire=expiries, now=stamps,
       salt=salts, fpa=expiries)  # fmt: skip
def test_multi_service_matches_the_official_access_token(
    *, app: str, cert: str, channel: str, uid: int | str, expire: int, now: int, salt: int, fpa: int
) -> None:
    with pinned(OFFICIAL_007, now, salt):
        official = OFFICIAL_007.AccessToken(app, cert, expire=expire)
        for service, privilege in (
            (OFFICIAL_007.ServiceFpa(), fpa),
            (OFFICIAL_007.ServiceRtc(channel, uid), expire),
            (OFFICIAL_007.ServiceChat("c1"), expire),
        ):
            service.add_privilege(1, privilege)
            official.add_service(service)
        expected = official.build()
    ours = AccessToken2(app, cert, expire=expire, issue_ts=now, salt=salt)
    ours.add_service(FpaService().add_privilege(1, fpa))
    ours.add_service(RtcService(channel, uid).add_privilege(1, expire))
    ours.add_service(ChatService("c1").add_privilege(1, expire))
    assert ours.build() == expected


@SETTINGS
@given(app=hex32, cert=hex32, channel=channels, uid=st.one_of(uids, accounts), publisher=st.booleans(), expire=expiries,
       now=stamps, salt=salts)  # fmt: skip
def test_the_official_parser_reads_our_tokens(
    *, app: str, cert: str, channel: str, uid: int | str, publisher: bool, expire: int, now: int, salt: int
) -> None:
    ours = build_rtc_rtm_token(app_id=app, app_certificate=cert, channel_name=channel, uid=uid if uid else 1,
                               role="publisher" if publisher else "subscriber", expire=expire, rtm_user_id="u",
                               issue_ts=now, salt=salt)  # fmt: skip
    parsed = OFFICIAL_007.AccessToken()
    assert parsed.from_string(ours) is True
    assert parsed._AccessToken__issue_ts == now  # type: ignore[attr-defined]
    assert parsed._AccessToken__salt == salt  # type: ignore[attr-defined]
    assert sorted(parsed._AccessToken__service) == [1, 2]  # type: ignore[attr-defined]


@SETTINGS
@given(app=hex32, cert=hex32, channel=channels, uid=st.one_of(uids, accounts), role=st.sampled_from([0, 1, 2, 101]),
       privilege_ts=st.integers(0, 2**32 - 1), now=st.integers(1, 2**32 - 1 - 86_400), salt=salts)  # fmt: skip
def test_legacy_006_matches_rtc_token_builder(
    *, app: str, cert: str, channel: str, uid: int | str, role: int, privilege_ts: int, now: int, salt: int
) -> None:
    with pinned(OFFICIAL_006, now, salt):
        if isinstance(uid, int):
            official = RtcTokenBuilder.buildTokenWithUid(app, cert, channel, uid, role, privilege_ts)
        else:
            official = RtcTokenBuilder.buildTokenWithAccount(app, cert, channel, uid, role, privilege_ts)
    granted = (1,) if role == SUBSCRIBER else (1, 2, 3, 4)
    ours = build_legacy_token(app_id=app, app_certificate=cert, channel_name=channel, uid=uid,
                              privileges=dict.fromkeys(granted, privilege_ts), ts=now + 86_400, salt=salt)  # fmt: skip
    assert ours == official


@SETTINGS
@given(app=hex32, cert=hex32, user=rtm_users, privilege_ts=st.integers(0, 2**32 - 1),
       now=st.integers(1, 2**32 - 1 - 86_400), salt=salts)  # fmt: skip
def test_legacy_006_matches_rtm_token_builder(
    *, app: str, cert: str, user: str, privilege_ts: int, now: int, salt: int
) -> None:
    with pinned(OFFICIAL_006, now, salt):
        official = RtmTokenBuilder.buildToken(app, cert, user, 1, privilege_ts)
    ours = build_legacy_token(app_id=app, app_certificate=cert, channel_name=user, uid=0,
                              privileges={"rtm_login": privilege_ts}, ts=now + 86_400, salt=salt)  # fmt: skip
    assert ours == official
