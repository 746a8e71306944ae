"""Agora client pieces that need no network: regions, validation, request bodies, the error table, limiters."""

from __future__ import annotations

import pickle

import pytest
from agorakit.agora import AgoraClient, LocalTokenBucket, StorageConfig, bucket_for_qps
from agorakit.agora.errors import (
    AgoraAlreadyStartedError,
    AgoraAuthError,
    AgoraCapacityError,
    AgoraConflictError,
    AgoraError,
    AgoraNotFoundError,
    AgoraParameterError,
    AgoraRateLimitedError,
    AgoraResourceExpiredError,
    AgoraServerError,
    AgoraUnavailableError,
    classify,
)
from agorakit.agora.models import (
    build_recording_config,
    normalize_file_list,
    validate_cname,
    validate_file_name_prefix,
    validate_uid,
)
from agorakit.agora.regions import S3_REGIONS, default_base_urls, s3_region_name, s3_region_number
from agorakit.errors import AgorakitError

SECRET = "unit-Secret-Value-9d1f"

# ------------------------------------------------------------------------------------------ regions


def test_region_table_matches_the_doc():
    assert s3_region_number("us-east-1") == 0  # a valid, falsy number
    assert s3_region_number("US-EAST-2") == 1
    assert s3_region_number("eu-central-1") == 7
    assert s3_region_number("ap-northeast-1") == 10
    assert s3_region_number("cn-northwest-1") == 16
    assert s3_region_number("af-south-1") == 18
    assert s3_region_number("me-south-1") == 22
    assert s3_region_number("ap-southeast-3") == 24
    assert s3_region_number("eu-south-1") == 25
    assert len(S3_REGIONS) == 24
    assert 17 not in S3_REGIONS.values() and 23 not in S3_REGIONS.values()
    assert sorted(S3_REGIONS.values()) == [n for n in range(26) if n not in (17, 23)]
    for name, number in S3_REGIONS.items():
        assert s3_region_name(number) == name


@pytest.mark.parametrize("bad", ["us-east-9", "mars-1", "", "il-central-1"])
def test_unknown_regions_are_rejected(bad):
    with pytest.raises(AgoraParameterError):
        s3_region_number(bad)


@pytest.mark.parametrize("bad", [17, 23, 26, -1])
def test_undefined_region_numbers_are_rejected(bad):
    with pytest.raises(AgoraParameterError):
        s3_region_name(bad)


def test_failover_hosts_follow_agoras_advice():
    assert default_base_urls("us-east-1") == [
        "https://api.agora.io",
        "https://api.sd-rtn.com",
        "https://api-us-east-1.agora.io",
        "https://api-us-west-1.agora.io",
    ]
    assert default_base_urls("eu-central-1")[2:] == [
        "https://api-eu-central-1.agora.io",
        "https://api-eu-west-1.agora.io",
    ]
    assert default_base_urls("ap-northeast-2")[2] == "https://api-ap-northeast-1.agora.io"
    china = default_base_urls("cn-north-1")
    assert china[:2] == ["https://api.sd-rtn.com", "https://api.agora.io"]
    assert china[2:] == ["https://api-cn-east-1.sd-rtn.com", "https://api-cn-north-1.sd-rtn.com"]
    assert default_base_urls(None)[0] == "https://api.agora.io"


# ------------------------------------------------------------------------------------------ validation


def test_file_name_prefix_rules():
    assert validate_file_name_prefix(["recordings", "room1", "0f3a"]) == ["recordings", "room1", "0f3a"]
    assert validate_file_name_prefix([]) == []
    longest = ["a" * 63, "b" * 64]  # 63 + 1 + 64 = 128 with the slash
    assert validate_file_name_prefix(longest) == longest
    with pytest.raises(AgoraParameterError, match="128"):
        validate_file_name_prefix(["a" * 64, "b" * 64])  # 129
    for bad in (["a-b"], ["a_b"], ["a/b"], [""], ["(x)"], ["é"], ["ok", 3]):
        with pytest.raises(AgoraParameterError):
            validate_file_name_prefix(bad)
    with pytest.raises(AgoraParameterError, match="list"):
        validate_file_name_prefix("recordings")


@pytest.mark.parametrize(("uid", "expected"), [(1, "1"), ("527841", "527841"), (2**32 - 1, "4294967295"),
                                               (2845863044, "2845863044")])  # fmt: skip
def test_uids_become_strings(uid, expected):
    assert validate_uid(uid) == expected


@pytest.mark.parametrize("bad", [0, "0", 2**32, "4294967296", -1, "-1", "12a", "", True, 1.5, None, "١٢"])
def test_bad_uids_are_rejected(bad):
    with pytest.raises(AgoraParameterError):
        validate_uid(bad)


def test_channel_name_rules():
    assert validate_cname("room 1!#$%&()+-:;<=.>?@[]^_{}|~,") == "room 1!#$%&()+-:;<=.>?@[]^_{}|~,"
    assert validate_cname("x" * 63) == "x" * 63
    for bad in ("x" * 64, "a/b", "a*b", "naïve", "", "tab\there"):
        with pytest.raises(AgoraParameterError):
            validate_cname(bad)
    assert validate_cname("https://example.com/page?x=1", web=True)
    with pytest.raises(AgoraParameterError):
        validate_cname("x" * 1025, web=True)


# ------------------------------------------------------------------------------------------ storage and bodies


def _storage(**kw):
    base = {"bucket": "my-bucket", "access_key": "AKIAEXAMPLE", "secret_key": SECRET}
    return StorageConfig(**{**base, **kw})


def test_storage_config_body_and_secret_free_repr():
    storage = _storage(file_name_prefix=["recordings", "room1"])
    assert storage.to_agora() == {
        "vendor": 1,
        "region": 0,
        "bucket": "my-bucket",
        "accessKey": "AKIAEXAMPLE",
        "secretKey": SECRET,
        "fileNamePrefix": ["recordings", "room1"],
    }
    assert SECRET not in repr(storage) and "AKIAEXAMPLE" not in repr(storage)
    assert _storage(region="eu-west-1").to_agora()["region"] == 4
    assert "fileNamePrefix" not in _storage().to_agora()
    assert StorageConfig.from_agora(storage.to_agora()).to_agora() == storage.to_agora()


def test_storage_config_rejects_what_agora_would():
    with pytest.raises(AgoraParameterError):
        _storage(region="mars-1")
    with pytest.raises(AgoraParameterError):
        _storage(region=17)
    with pytest.raises(AgoraParameterError):
        _storage(vendor=0)  # Qiniu is no longer listed
    with pytest.raises(AgoraParameterError):
        _storage(vendor=11)  # S3-compatible needs an endpoint
    assert _storage(vendor=11, extension_params={"endpoint": "minio.example.com"}).to_agora()["region"] == 0
    with pytest.raises(AgoraParameterError):
        _storage(file_name_prefix=["bad_segment"])
    with pytest.raises(AgoraParameterError):
        _storage(secret_key="")
    with pytest.raises(AgoraParameterError, match="bucket"):
        StorageConfig.from_agora({"vendor": 1, "region": 0, "accessKey": "a", "secretKey": "b"})


def test_start_body_for_mix_matches_the_docs_shape_with_defaults():
    body = AgoraClient.start_body(
        "httpClient463224",
        527841,
        "mix",
        token="007eJx...",
        recording_config={"channelType": 1, "transcodingConfig": {"width": 640, "height": 360}},
        storage_config=_storage(file_name_prefix=["recordings"]),
    )
    assert body["cname"] == "httpClient463224"
    assert body["uid"] == "527841"  # a string in cloud-recording bodies
    request = body["clientRequest"]
    assert request["token"] == "007eJx..."
    assert request["storageConfig"]["region"] == 0
    config = request["recordingConfig"]
    assert config["maxIdleTime"] == 300  # Agora's default is 30
    assert config["channelType"] == 1
    assert config["unsubscribeAudioUids"] == ["527841"]  # the recorder never records itself
    assert config["unsubscribeVideoUids"] == ["527841"]
    assert "subscribeUidGroup" not in config  # mix mode does not take it
    assert set(request) == {"token", "recordingConfig", "storageConfig"}


def test_recording_config_keeps_explicit_values_and_subscriptions():
    config = build_recording_config("individual", "4000000001", {"maxIdleTime": 60,
                                    "subscribeAudioUids": ["123", 4000000001, 456],
                                    "subscribeVideoUids": ["#allstream#"]})  # fmt: skip
    assert config["maxIdleTime"] == 60
    assert config["subscribeAudioUids"] == ["123", "456"]
    assert config["subscribeVideoUids"] == ["#allstream#"]
    assert "unsubscribeAudioUids" not in config
    assert config["subscribeUidGroup"] == 5  # #allstream# may mean anybody
    unsub = build_recording_config("raw", "9", {"unsubscribeAudioUids": ["1"], "unsubscribeVideoUids": []})
    assert unsub["unsubscribeAudioUids"] == ["1", "9"] and unsub["unsubscribeVideoUids"] == ["9"]
    assert unsub["subscribeUidGroup"] == 5  # unsubscribe lists say nothing about how many are recorded
    assert (
        build_recording_config("individual", "9", {"subscribeAudioUids": [str(i) for i in range(1, 11)]})[
            "subscribeUidGroup"
        ]
        == 2
    )


@pytest.mark.parametrize(
    ("mode", "config"),
    [
        ("mix", {"maxIdleTime": 4}),
        ("mix", {"maxIdleTime": 2_592_001}),
        ("mix", {"maxIdleTime": "300"}),
        ("mix", {"subscribeAudioUids": ["1"], "unsubscribeAudioUids": ["2"]}),
        ("mix", {"subscribeAudioUids": [str(i) for i in range(1, 34)]}),
        ("mix", {"subscribeAudioUids": ["9"]}),  # only the recorder itself
        ("mix", {"streamTypes": 3}),
        ("raw", {"streamMode": "standard"}),
        ("individual", {"transcodingConfig": {}}),
    ],
)
def test_recording_config_rejections(mode, config):
    with pytest.raises(AgoraParameterError):
        build_recording_config(mode, "9", config)


def test_start_body_mode_rules():
    storage = _storage()
    with pytest.raises(AgoraParameterError, match="mode"):
        AgoraClient.start_body("c", 9, "composite", token=None, storage_config=storage)
    with pytest.raises(AgoraParameterError, match="extension_service_config"):
        AgoraClient.start_body("label", 9, "web", token=None, storage_config=storage)
    with pytest.raises(AgoraParameterError):
        AgoraClient.start_body("c", 9, "raw", token=None, storage_config=storage, extension_service_config={"x": 1})
    with pytest.raises(AgoraParameterError):
        AgoraClient.start_body("c", 9, "mix", token=None, storage_config=storage, recording_file_config={
            "avFileType": ["mp4"]})  # fmt: skip
    with pytest.raises(AgoraParameterError):
        AgoraClient.start_body("c", 9, "mix", token=None, storage_config=storage, snapshot_config={"fileType": ["jpg"]})
    web = AgoraClient.start_body(
        "https://example.com/room?id=1",
        9,
        "web",
        token=None,
        storage_config=storage.to_agora(),
        extension_service_config={"extensionServices": [{"serviceName": "web_recorder_service"}]},
        recording_file_config={"avFileType": ["hls", "mp4"]},
    )
    assert "recordingConfig" not in web["clientRequest"]
    assert web["clientRequest"]["recordingFileConfig"] == {"avFileType": ["hls", "mp4"]}


def test_file_lists_in_every_shape():
    files, mode = normalize_file_list({"fileListMode": "string", "fileList": "sid_c.m3u8"})
    assert (files, mode) == ([{"fileName": "sid_c.m3u8"}], "string")
    assert normalize_file_list({"fileListMode": "string", "fileList": ""}) == ([], "string")
    entries = [{"fileName": "a.m3u8", "trackType": "audio_and_video", "uid": "0", "mixedAllUser": True,
                "isPlayable": True, "sliceStartTime": 1619172632}]  # fmt: skip
    assert normalize_file_list({"fileListMode": "json", "fileList": entries}) == (entries, "json")
    web = {"extensionServiceState": [{"serviceName": "web_recorder_service",
           "payload": {"fileList": [{"filename": "w.m3u8", "sliceStartTime": 1}], "state": "exit"}},
           {"serviceName": "upload_service", "payload": {"uploadingStatus": "uploaded"}}]}  # fmt: skip
    files, _ = normalize_file_list(web)
    assert files == [{"filename": "w.m3u8", "sliceStartTime": 1, "fileName": "w.m3u8"}]


# ------------------------------------------------------------------------------------------ the error table

CASES = [
    # (operation, http status, body, verdict kind, error class)
    ("acquire", 200, {"resourceId": "x"}, "ok", None),
    ("start", 200, {"sid": "s"}, "ok", None),
    ("start", 201, {"code": 7, "reason": "already started"}, "raise", AgoraAlreadyStartedError),
    ("start", 206, {"code": 65}, "retry", AgoraServerError),
    ("query", 206, {"code": 65}, "retry", AgoraServerError),
    ("stop", 206, {"code": 65}, "retry", AgoraServerError),
    ("stop", 206, {"code": 435}, "empty", None),
    ("stop", 404, {"code": 404, "reason": "failed to find worker"}, "gone", None),
    ("stop", 400, {"code": 49}, "gone", None),
    ("query", 404, {"code": 404}, "raise", AgoraNotFoundError),
    ("update", 404, {}, "raise", AgoraNotFoundError),
    ("updateLayout", 400, {"code": 49}, "raise", AgoraNotFoundError),
    ("query", 400, {"code": 49}, "raise", AgoraNotFoundError),
    ("start", 400, {"code": 433}, "raise", AgoraResourceExpiredError),
    ("start", 400, {"code": 1001}, "raise", AgoraResourceExpiredError),
    ("query", 400, {"code": 1001}, "raise", AgoraResourceExpiredError),
    ("start", 400, {"code": 53}, "raise", AgoraConflictError),
    ("start", 400, {"code": 2, "reason": "invalid"}, "raise", AgoraParameterError),
    ("acquire", 400, {"code": 1013}, "raise", AgoraParameterError),
    ("start", 400, {"code": 432}, "raise", AgoraParameterError),
    ("start", 400, {"code": "2"}, "raise", AgoraParameterError),
    ("acquire", 400, {"message": "appid is invalid"}, "raise", AgoraParameterError),
    ("channel.list", 415, {}, "raise", AgoraParameterError),
    ("start", 401, {"message": "Invalid authentication credentials"}, "raise", AgoraAuthError),
    ("channel.list", 403, {}, "raise", AgoraAuthError),
    ("acquire", 500, {"code": 62}, "raise", AgoraAuthError),  # not enabled for the App ID
    ("query", 504, {"code": 62, "reason": "request timeout"}, "retry", AgoraServerError),
    ("acquire", 500, {"code": 504, "reason": "allocate_timeout"}, "retry", AgoraServerError),
    ("start", 500, {"code": 15}, "retry", AgoraServerError),
    ("channel.users", 503, None, "retry", AgoraServerError),
    ("acquire", 429, {"message": "API rate limit exceeded"}, "retry", AgoraRateLimitedError),
    ("kicking_rule.create", 429, {}, "retry", AgoraRateLimitedError),
    ("acquire", 400, {"code": 406, "reason": "vendor_over_load"}, "raise", AgoraCapacityError),
    ("start", 200, {"code": 109}, "raise", AgoraParameterError),
    ("stop", 200, {"code": 50}, "ok", None),
    ("stop", 200, {"serverResponse": {"uploadingStatus": "uploaded"}}, "ok", None),
    ("query", 206, {"code": 435}, "retry", AgoraServerError),  # 435 means "empty" only on stop
    ("query", 206, {}, "retry", AgoraServerError),
]


@pytest.mark.parametrize(("op", "status", "body", "kind", "error"), CASES)
def test_classification_table(op, status, body, kind, error):
    verdict = classify(op, status, body)
    assert verdict.kind == kind
    assert verdict.error is error


def test_retryability_follows_the_contract():
    assert classify("acquire", 406 and 400, {"code": 406}).retryable is True
    for cls in (AgoraRateLimitedError, AgoraServerError, AgoraUnavailableError):
        assert cls("x").retryable is True
    for cls in (AgoraParameterError, AgoraAuthError, AgoraNotFoundError, AgoraResourceExpiredError,
                AgoraAlreadyStartedError, AgoraConflictError):  # fmt: skip
        assert cls("x").retryable is False
        assert issubclass(cls, AgoraError) and issubclass(cls, AgorakitError)
    assert issubclass(AgoraParameterError, ValueError)


def test_errors_carry_their_context_and_survive_pickling():
    err = AgoraAlreadyStartedError("Agora start failed", code=7, http_status=201, request_id="req-1", reason="started")
    text = str(err)
    assert "code=7" in text and "http=201" in text and "request_id=req-1" in text and "started" in text
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301
    assert type(copy) is AgoraAlreadyStartedError
    assert (copy.code, copy.http_status, copy.request_id, copy.reason, copy.retryable) == (7, 201, "req-1", "started",
                                                                                          False)  # fmt: skip
    assert pickle.loads(pickle.dumps(AgoraServerError("x", code=65))).retryable is True  # noqa: S301


# ------------------------------------------------------------------------------------------ client construction


def test_client_never_shows_its_secret():
    client = AgoraClient(app_id="a" * 32, customer_id="cid", customer_secret=SECRET, base_urls=["https://h.example"])
    try:
        assert SECRET not in repr(client)
        assert SECRET not in repr(client._http.headers)
        assert client.base_urls == ("https://h.example",)
    finally:
        client.close()
    with pytest.raises(AgoraParameterError):
        AgoraClient(app_id="a", customer_id="cid", customer_secret="", base_urls=["https://h"])
    with pytest.raises(AgoraParameterError):
        AgoraClient(app_id="a", customer_id="cid", customer_secret="s", base_urls=["ftp://h"])


@pytest.mark.slow  # a fresh interpreter is the point: this one has httpx imported already
def test_importing_the_client_does_not_import_httpx():
    import subprocess
    import sys

    code = "import sys, agorakit.agora; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# ------------------------------------------------------------------------------------------ local token bucket


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_bucket_for_qps_keeps_a_second_at_or_under_the_limit():
    rate, burst = bucket_for_qps(10)
    assert burst == 1 and rate == pytest.approx(8.0)
    assert int(burst + rate * 1.0) <= 10  # grants in any 1 s window: at most burst + rate, an integer
    with pytest.raises(ValueError):
        bucket_for_qps(0)


def test_local_bucket_grants_never_exceed_burst_plus_rate_times_elapsed():
    fake = FakeTime()
    bucket = LocalTokenBucket(5, 3, clock=fake.clock, sleep=fake.sleep)
    grants = []
    for i in range(60):
        if i % 7 == 0:
            fake.now += 0.05  # callers arrive irregularly
        bucket.acquire()
        grants.append(fake.now)
    assert grants[:3] == [grants[0]] * 3  # the burst goes at once
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            assert j - i + 1 <= 3 + 5 * (grants[j] - grants[i]) + 1e-9
    assert grants[-1] - grants[0] >= (60 - 3) / 5 - 1e-9


def test_local_bucket_max_wait_raises_instead_of_waiting_forever():
    fake = FakeTime()  # concurrent callers: nobody's sleep has ended yet, so the clock stands still
    bucket = LocalTokenBucket(1, 1, max_wait=2.5, clock=fake.clock, sleep=fake.sleeps.append)
    bucket.acquire()
    bucket.acquire()
    bucket.acquire()
    assert fake.sleeps == [1.0, 2.0]
    with pytest.raises(AgoraRateLimitedError):
        bucket.acquire()  # would wait 3 s
    with pytest.raises(ValueError):
        bucket.acquire(2)  # more than the burst can ever hold
