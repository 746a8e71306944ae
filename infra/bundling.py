"""Docker-free bundling of the Lambda dependency layer: ``pip install --platform`` on the host.

CDK asks ``try_bundle`` first; only if it returns False would it fall back to the Docker image.
The wheels are chosen for the function's architecture and Python version, never the host's; every
wheel is checked against its pinned hash (``--require-hashes``) and ``bin/`` (console scripts naming
the build machine's interpreter) is dropped, so the layer's bytes depend only on the lock file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import ILocalBundling


@jsii.implements(ILocalBundling)
class PipLocalBundler:
    def __init__(self, requirements: Path, *, platform: str, python_version: str):
        self.requirements = requirements
        self.platform = platform
        self.python_version = python_version

    def command(self, target: Path) -> list[str]:
        return [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--only-binary=:all:", "--require-hashes", "--no-deps", "--implementation", "cp",
            "--platform", self.platform, "--python-version", self.python_version,
            "--target", str(target), "-r", str(self.requirements),
        ]  # fmt: skip

    @staticmethod
    def clean(target: Path) -> None:
        """Drop what depends on the build machine: console scripts (their shebang names its interpreter),
        pip's RECORD files and byte code."""
        shutil.rmtree(target / "bin", ignore_errors=True)
        for junk in target.glob("*.dist-info/RECORD"):
            junk.unlink()
        for cache in target.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)

    # jsii passes ``options`` positionally: keep this exact signature.
    def try_bundle(self, output_dir: str, options) -> bool:
        target = Path(output_dir) / "python"
        try:
            subprocess.run(self.command(target), check=True)  # noqa: S603 - a fixed pip command line
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"local bundling failed ({exc}); falling back to Docker bundling", file=sys.stderr)
            return False
        self.clean(target)
        return True
