"""Our SigV4 signer against botocore's, the reference implementation, on generated requests.

``awsfast.sign`` must produce exactly the ``Authorization`` header botocore's
``SigV4Auth`` computes for the same request and instant (moto recomputes it the same way to verify).
"""

from __future__ import annotations

from awsfast import available, endpoint_for, sign
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

header_text = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)


def botocore_authorization(*, url, headers, body, service, region, access_key, secret_key, token, amz_date) -> str:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(access_key, secret_key, token), service, region)
    canonical = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical)
    signature = auth.signature(string_to_sign, request)
    signed = auth.signed_headers(auth.headers_to_sign(request))
    scope = auth.scope(request)
    return f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={signature}"


@given(
    body=st.binary(max_size=300),
    target=header_text,
    region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]),
    service=st.sampled_from(["dynamodb", "secretsmanager", "states"]),
    access_key=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=16, max_size=20),
    secret_key=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    token=st.none() | header_text,
    host=st.sampled_from(["dynamodb.us-east-1.amazonaws.com", "127.0.0.1:4566", "localhost:5000"]),
    stamp=st.integers(min_value=0, max_value=10**9),
)
def test_authorization_header_equals_botocores(  # noqa: PLR0917 - one argument per generated input
    body, target, region, service, access_key, secret_key, token, host, stamp
):
    amz_date = "%04d%02d%02dT%02d%02d%02dZ" % (  # noqa: UP031 - a fixed-width stamp
        2000 + stamp % 60,
        1 + stamp % 12,
        1 + stamp % 28,
        stamp % 24,
        stamp % 60,
        (stamp // 7) % 60,
    )
    url = f"{'https' if host.endswith('.com') else 'http'}://{host}/"
    headers = {"content-type": "application/x-amz-json-1.0", "host": host, "x-amz-date": amz_date,
               "x-amz-target": target}  # fmt: skip
    if token:
        headers["x-amz-security-token"] = token
    ours = sign(
        method="POST", url=url, headers=headers, body=body, service=service, region=region,
        access_key=access_key, secret_key=secret_key, amz_date=amz_date,
    )  # fmt: skip
    theirs = botocore_authorization(
        url=url, headers=headers, body=body, service=service, region=region, access_key=access_key,
        secret_key=secret_key, token=token, amz_date=amz_date,
    )  # fmt: skip
    assert ours == theirs


def test_it_is_used_only_where_it_can_be_exact():
    base = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}  # fmt: skip
    assert available("dynamodb", base)
    # outside Lambda only with an explicit endpoint: moto's in-process mock patches botocore, not this client
    outside = {k: v for k, v in base.items() if k != "AWS_EXECUTION_ENV"}
    assert not available("dynamodb", outside)
    assert available("dynamodb", {**outside, "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert available("dynamodb", {**outside, "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000"})
    assert not available("secretsmanager", {**outside, "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000"})
    assert available("stepfunctions", base) and available("secretsmanager", base)
    assert not available("sqs", base)
    assert not available("dynamodb", {**base, "AWS_ACCESS_KEY_ID": ""})  # credentials from a provider chain
    assert not available("dynamodb", {k: v for k, v in base.items() if k != "AWS_REGION"})
    assert available(
        "dynamodb", {**{k: v for k, v in base.items() if k != "AWS_REGION"}, "AWS_DEFAULT_REGION": "eu-west-1"}
    )
    assert available("dynamodb", {**base, "AWS_CA_BUNDLE": "/etc/ssl/bundle.pem"})  # honoured, as botocore does
    for setting in ("HTTPS_PROXY", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_CONFIG_FILE"):
        assert not available("dynamodb", {**base, setting: "1"}), setting
    for region in ("us-iso-east-1", "eusc-de-east-1", "cn-north-1", "us-gov-west-1"):
        assert not available("dynamodb", {**base, "AWS_REGION": region}), region


def test_a_shared_config_file_leaves_the_choice_to_botocore(tmp_path):
    base = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "HOME": str(tmp_path)}  # fmt: skip
    assert available("dynamodb", base)
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nretry_mode = legacy\n")
    assert not available("dynamodb", base)


def test_endpoints_follow_the_standard_variables_then_the_partition():
    assert endpoint_for("dynamodb", "eu-west-1", {}) == "https://dynamodb.eu-west-1.amazonaws.com"
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000/", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:6000"}
    assert endpoint_for("dynamodb", "eu-west-1", env) == "http://127.0.0.1:6000"
    assert endpoint_for("secretsmanager", "eu-west-1", env) == "http://127.0.0.1:5000"
