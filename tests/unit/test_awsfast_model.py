"""The fast client's tables against the pinned botocore's own data (issue 22): endpoint variable names,
partitions and regional endpoints, idempotency tokens, modeled and retryable errors. A botocore upgrade that
changes any of them fails here first."""

from __future__ import annotations

import json
from pathlib import Path

import awsfast
import botocore
import botocore.session
import pytest
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.retries import quota, standard

PARTITIONS = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())["partitions"]
SERVICES = (*awsfast.SERVICES, "s3")
LAMBDA = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}


@pytest.mark.parametrize("service", SERVICES)
def test_endpoint_variables_are_botocores(service):
    variable = ConfiguredEndpointProvider({}, {}, service)._get_service_env_var_name()
    assert variable in {"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SFN",
                        "AWS_ENDPOINT_URL_S3"}  # fmt: skip
    assert awsfast.configured_endpoint(service, {variable: "http://a", "AWS_ENDPOINT_URL": "http://b"}) == "http://a"
    assert awsfast.configured_endpoint(service, {"AWS_ENDPOINT_URL": "http://b"}) == "http://b"
    ignored = {variable: "http://a", "AWS_ENDPOINT_URL": "http://b", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert awsfast.configured_endpoint(service, ignored) is None
    wrong = {"AWS_ENDPOINT_URL_STEPFUNCTIONS": "http://x", "AWS_ENDPOINT_URL_SECRETSMANAGER": "http://x"}
    assert awsfast.configured_endpoint(service, wrong) is None  # names botocore does not read


def test_only_the_aws_partition_is_served_and_its_endpoints_are_botocores():
    aws = next(p for p in PARTITIONS if p["id"] == "aws")
    assert awsfast.AWS_REGION_PATTERN.pattern == aws["regionRegex"]
    session = botocore.session.get_session()
    for partition in PARTITIONS:
        for region in partition["regions"]:
            env = {**LAMBDA, "AWS_REGION": region}
            # pseudo-regions (aws-global, ...) are botocore's too
            served = partition["id"] == "aws" and awsfast.AWS_REGION_PATTERN.match(region) is not None
            for service in awsfast.SERVICES:
                assert awsfast.available(service, env) == served, (region, service)
                if served:
                    client = session.create_client(service, region_name=region, aws_access_key_id="a",
                                                   aws_secret_access_key="s")  # fmt: skip
                    assert awsfast.endpoint_for(service, region, {}) == client.meta.endpoint_url, (region, service)


def test_idempotency_tokens_and_error_tables_are_the_models():
    session = botocore.session.get_session()
    for service, operations in awsfast.OPERATIONS.items():
        model = session.get_service_model(service)
        for operation, _, _ in operations.values():
            op = model.operation_model(operation)
            assert tuple(op.idempotent_members) == awsfast.IDEMPOTENCY_TOKENS.get(operation, ()), operation
            # features of the JSON protocol our serializer does not have (tests/fixtures/aws-conformance/README.md)
            assert op.endpoint is None and op.request_compression is None, operation
            codes = {e.metadata.get("error", {}).get("code") or e.name for e in op.error_shapes}
            assert awsfast.MODELED_ERRORS[operation] == codes, operation
            retryable = {e.name for e in op.error_shapes if e.metadata.get("retryable")}
            assert not any(e.metadata.get("retryable", {}).get("throttling") for e in op.error_shapes)
            assert awsfast.MODELED_RETRYABLE.get(operation, frozenset()) == retryable, operation
    s3 = session.get_service_model("s3").operation_model("GetObject")
    assert awsfast.MODELED_ERRORS["GetObject"] == {e.name for e in s3.error_shapes}


def test_retry_constants_are_the_pinned_botocores_standard_mode():
    assert set(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) == awsfast.THROTTLING
    assert set(standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES) == awsfast.TRANSIENT_CODES
    assert set(standard.TransientRetryableChecker._TRANSIENT_STATUS_CODES) == awsfast.TRANSIENT_STATUS
    assert awsfast.DEFAULT_MAX_ATTEMPTS == standard.DEFAULT_MAX_ATTEMPTS
    assert {"dynamodb": standard._SERVICE_MAX_ATTEMPTS["dynamodb"]} == awsfast.SERVICE_MAX_ATTEMPTS
    backoff = standard.ExponentialBackoff
    assert awsfast.MAX_BACKOFF == backoff._MAX_BACKOFF
    assert backoff._DEFAULT_BACKOFF_CONFIG["throttling_base_scale"] == awsfast.THROTTLING_BASE
    assert backoff._DEFAULT_BACKOFF_CONFIG["non_throttling_base_scale"] == awsfast.DEFAULT_NON_THROTTLING_BASE
    assert (
        awsfast.NON_THROTTLING_BASE["dynamodb"]
        == backoff._SERVICE_BACKOFF_CONFIG["dynamodb"]["non_throttling_base_scale"]
    )
    assert awsfast.RETRY_AFTER_MAX_ADDITIONAL == backoff._RETRY_AFTER_MAX_ADDITIONAL
    assert awsfast.QUOTA_CAPACITY == quota.RetryQuota.INITIAL_CAPACITY
    checker = standard.RetryQuotaChecker
    assert (awsfast.RETRY_COST, awsfast.THROTTLING_RETRY_COST, awsfast.NO_RETRY_INCREMENT) == (
        checker._RETRY_COST, checker._THROTTLING_RETRY_COST, checker._NO_RETRY_INCREMENT)  # fmt: skip


def test_the_pinned_botocores_default_retry_mode_is_standard():
    from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES as variables

    assert variables["retry_mode"][2] == "standard"
    assert variables["max_attempts"][1] == "AWS_MAX_ATTEMPTS" and variables["retry_mode"][1] == "AWS_RETRY_MODE"


def test_the_one_entry_point_chooses_per_service_and_says_so_once(monkeypatch, caplog, tmp_path):
    import logging

    from awsfast import s3
    from service.adapters import aws

    env = {"AGORA_AWS_FAST_CLIENT": "1", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s",
           "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "HOME": str(tmp_path)}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    try:
        with caplog.at_level(logging.INFO, logger="service.adapters.aws"):
            chosen = {name: aws.client(name) for name in ("dynamodb", "stepfunctions", "s3", "sqs", "dynamodb")}
        assert isinstance(chosen["dynamodb"], awsfast.FastClient)
        assert isinstance(chosen["stepfunctions"], awsfast.FastClient)
        assert isinstance(chosen["s3"], s3.FastS3Client)
        assert not isinstance(chosen["sqs"], (awsfast.FastClient, s3.FastS3Client))
        logged = [(r.service, r.client) for r in caplog.records if r.getMessage() == "aws client"]
        assert [service for service, _ in logged] == ["dynamodb", "stepfunctions", "s3", "sqs"]  # once each
        assert dict(logged)["sqs"] == "botocore"
    finally:
        aws.reset_clients()
