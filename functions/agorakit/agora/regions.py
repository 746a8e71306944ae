"""Agora's storage-region numbers and REST hosts.

Agora's ``storageConfig.region`` for Amazon S3 (vendor 1) is a number from its own table, not the AWS
name; ``us-east-1`` is 0 (a falsy value, easy to lose). 17 and 23 are not defined; unknown regions
are rejected rather than guessed.
"""

from __future__ import annotations

from types import MappingProxyType

from agorakit.agora.errors import AgoraParameterError

#: AWS region name -> Agora region number (vendor 1, Amazon S3).
S3_REGIONS: MappingProxyType[str, int] = MappingProxyType(
    {
        "us-east-1": 0,
        "us-east-2": 1,
        "us-west-1": 2,
        "us-west-2": 3,
        "eu-west-1": 4,
        "eu-west-2": 5,
        "eu-west-3": 6,
        "eu-central-1": 7,
        "ap-southeast-1": 8,
        "ap-southeast-2": 9,
        "ap-northeast-1": 10,
        "ap-northeast-2": 11,
        "sa-east-1": 12,
        "ca-central-1": 13,
        "ap-south-1": 14,
        "cn-north-1": 15,
        "cn-northwest-1": 16,
        "af-south-1": 18,
        "ap-east-1": 19,
        "ap-northeast-3": 20,
        "eu-north-1": 21,
        "me-south-1": 22,
        "ap-southeast-3": 24,
        "eu-south-1": 25,
    }
)
S3_REGION_NAMES: MappingProxyType[int, str] = MappingProxyType({v: k for k, v in S3_REGIONS.items()})

#: Storage vendors Agora lists today.
VENDORS: MappingProxyType[int, str] = MappingProxyType(
    {1: "Amazon S3", 2: "Alibaba Cloud", 3: "Tencent Cloud", 5: "Microsoft Azure", 6: "Google Cloud",
     7: "Huawei Cloud", 8: "Baidu AI Cloud", 11: "S3-compatible"}
)  # fmt: skip

PRIMARY_HOST = "https://api.agora.io"
CHINA_PRIMARY_HOST = "https://api.sd-rtn.com"

#: Agora regional host prefixes by area, nearest first then the neighbour (Agora's failover advice).
_AREAS: dict[str, tuple[str, str]] = {
    "us": ("us-east-1", "us-west-1"),
    "us-west": ("us-west-1", "us-east-1"),
    "eu": ("eu-west-1", "eu-central-1"),
    "eu-central": ("eu-central-1", "eu-west-1"),
    "ap-southeast": ("ap-southeast-1", "ap-northeast-1"),
    "ap-northeast": ("ap-northeast-1", "ap-southeast-1"),
    "cn": ("cn-east-1", "cn-north-1"),
}


def s3_region_number(region: str) -> int:
    """The Agora number of an AWS region name; unknown names raise AgoraParameterError."""
    try:
        return S3_REGIONS[region.strip().lower()]
    except (KeyError, AttributeError):
        raise AgoraParameterError(f"AWS region {region!r} has no Agora storage region number") from None


def s3_region_name(number: int) -> str:
    try:
        return S3_REGION_NAMES[number]
    except KeyError:
        raise AgoraParameterError(f"{number!r} is not an Agora S3 region number") from None


#: AWS region prefix -> Agora area, most specific first.
_AREA_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("cn-", "cn"),
    ("us-west", "us-west"),
    ("ca-west", "us-west"),
    ("eu-central", "eu-central"),
    ("eu-south", "eu-central"),
    ("eu-north", "eu-central"),
    ("il-", "eu-central"),
    ("me-", "eu-central"),
    ("eu-", "eu"),
    ("af-", "eu"),
    ("ap-northeast", "ap-northeast"),
    ("ap-east", "ap-northeast"),
    ("ap-", "ap-southeast"),
)


def _area(aws_region: str | None) -> str:
    region = (aws_region or "").lower()
    return next((area for prefix, area in _AREA_BY_PREFIX if region.startswith(prefix)), "us")


def default_base_urls(aws_region: str | None = None) -> list[str]:
    """Hosts in failover order for a caller running in ``aws_region``.

    Agora's advice: the primary host (``api.agora.io`` outside mainland China, ``api.sd-rtn.com``
    inside), then the other major host, then the regional hosts nearest the caller.
    """
    area = _area(aws_region)
    if area == "cn":
        majors = [CHINA_PRIMARY_HOST, PRIMARY_HOST]
        suffix = "sd-rtn.com"
    else:
        majors = [PRIMARY_HOST, CHINA_PRIMARY_HOST]
        suffix = "agora.io"
    regional = [f"https://api-{prefix}.{suffix}" for prefix in _AREAS[area]]
    return majors + regional


#: AWS region prefix -> acquire's ``region`` (the areas Agora can pin a recorder to). Regions of other
#: continents (sa-, af-, me-, il-) are in none of Agora's four areas that we can tell: no answer for them.
_ACQUIRE_AREA_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("cn-", "CN"),
    ("us-", "NA"),
    ("ca-", "NA"),
    ("mx-", "NA"),
    ("eu-", "EU"),
    ("ap-", "AP"),
)


def acquire_area(aws_region: str | None) -> str | None:
    """acquire's ``region`` (``NA``, ``EU``, ``AP``, ``CN``) an AWS region lies in, or None if unclear.

    Agora: a recorder pinned with acquire ``region`` must store in that area (the storage region in ``start``
    must match), so a pin away from the bucket's area is refused before Agora is called.
    """
    region = (aws_region or "").strip().lower()
    return next((area for prefix, area in _ACQUIRE_AREA_BY_PREFIX if region.startswith(prefix)), None)
