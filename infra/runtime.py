"""What the functions run on: one Python for the tests and for Lambda, and the Powertools the tests pinned.

- Lambda runtime Python 3.13 on arm64: the newest Python the test suite runs on (``make test-py313``);
  see docs/decisions.md.
- Powertools (with pydantic) comes from AWS's public layer through its *versioned* SSM parameter
  ``/aws/service/powertools/python/arm64/python3.13/<version>``, the version read from requirements.txt.
  The ``latest`` parameter would be re-read on every deploy and could change Powertools silently.
- Synth fails when requirements.txt does not pin Powertools exactly, when the interpreter running synth
  (the tested environment) has another Powertools, or when the region has no Powertools parameter.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"

RUNTIME = lambda_.Runtime.PYTHON_3_13
PYTHON_VERSION = "3.13"
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"
POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"

#: Regions where Powertools publishes its layer parameters (the release workflow's region matrix,
#: aws-powertools/powertools-lambda-python .github/workflows/update_ssm.yml). China and GovCloud use
#: other accounts and no such parameter.
POWERTOOLS_REGIONS = frozenset(
    {
        "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
        "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
        "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
        "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "mx-central-1", "sa-east-1",
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    }
)  # fmt: skip

_PIN = re.compile(r"^\s*aws-lambda-powertools(?:\[[^\]]*\])?\s*==\s*([0-9][0-9A-Za-z.]*)\s*(?:#.*)?$", re.MULTILINE)


class RuntimeConfigError(ValueError):
    """Synth cannot produce a stack that runs what was tested."""


def pinned_powertools_version(requirements: Path = REQUIREMENTS) -> str:
    """The exact Powertools version requirements.txt pins (``aws-lambda-powertools[...]==X.Y.Z``)."""
    found = _PIN.findall(requirements.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise RuntimeConfigError(
            f"{requirements.name} must pin aws-lambda-powertools exactly once with '==' (found {len(found)})"
        )
    return str(found[0])


def installed_powertools_version() -> str | None:
    try:
        return metadata.version(POWERTOOLS_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def checked_powertools_version(requirements: Path = REQUIREMENTS, installed: str | None = None) -> str:
    """The pinned version, after checking that the tested environment has the same one."""
    pinned = pinned_powertools_version(requirements)
    tested = installed if installed is not None else installed_powertools_version()
    if tested is not None and tested != pinned:
        raise RuntimeConfigError(
            f"requirements.txt pins aws-lambda-powertools=={pinned} but this environment has {tested}: "
            "the deployed layer would not be the tested one (run `make setup`, or fix the pin)"
        )
    return pinned


def powertools_parameter(version: str, region: str) -> str:
    """The versioned SSM parameter of the public Powertools layer, or a clear error for an unpublished region."""
    if region not in POWERTOOLS_REGIONS:
        raise RuntimeConfigError(
            f"region {region}: Powertools publishes no layer parameter there (published in: "
            f"{', '.join(sorted(POWERTOOLS_REGIONS))})"
        )
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/python{PYTHON_VERSION}/{version}"
