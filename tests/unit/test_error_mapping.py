"""An AWS dependency that throttles, fails or cannot be reached is the documented 503, never a 500; any other
AWS error is ours and stays a 500 (``service.errors.map_exception``)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from service.errors import AWS_TRANSIENT_CODES, UpstreamUnavailable, map_exception


def _client_error(code: str, status: int | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": "m"}}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "Query")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", sorted(AWS_TRANSIENT_CODES))
def test_throttling_and_failing_aws_is_503_with_retry_after(code: str) -> None:
    mapped = map_exception(_client_error(code))
    assert isinstance(mapped, UpstreamUnavailable)
    assert mapped.status == 503 and mapped.headers == {"Retry-After": "1"}
    assert "Query" in mapped.message and mapped.details == {"aws_error": code}


def test_any_aws_5xx_is_503() -> None:
    assert map_exception(_client_error("SomethingNew", 502)).status == 503  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_unreachable_aws_is_503(exc: Exception) -> None:
    mapped = map_exception(exc)
    assert mapped is not None and mapped.status == 503


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("AccessDeniedException", 400),
        _client_error("ValidationException", 400),
        _client_error("ResourceNotFoundException", 400),
        ValueError("ours"),
        KeyError("ours"),
    ],
)
def test_our_own_faults_stay_500(exc: Exception) -> None:
    assert map_exception(exc) is None


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("AgoraParameterError", 400, "bad_request"),
        ("AgoraConflictError", 409, "conflict"),
        ("AgoraAlreadyStartedError", 409, "conflict"),
        ("AgoraResourceExpiredError", 409, "conflict"),
        ("AgoraNotFoundError", 404, "not_found"),
    ],
)
def test_agoras_refusals_of_the_request_stay_4xx_with_agoras_reason(error: str, status: int, code: str) -> None:
    from agorakit.agora import errors

    exc = getattr(errors, error)("Agora said no", http_status=400, code=2, reason="cname is invalid for this app")
    mapped = map_exception(exc)
    assert mapped is not None and (mapped.status, mapped.code) == (status, code)
    assert "cname is invalid for this app" in mapped.message
    assert mapped.details["agora_http_status"] == 400


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("AgoraAuthError", 502),
        ("AgoraServerError", 503),
        ("AgoraRateLimitedError", 503),
        ("AgoraUnavailableError", 503),
    ],
)
def test_only_agoras_own_failures_are_5xx(error: str, status: int) -> None:
    from agorakit.agora import errors

    mapped = map_exception(getattr(errors, error)("Agora failed", http_status=500))
    assert mapped is not None and mapped.status == status
