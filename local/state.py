"""``--state DIR``: what the local stack keeps across restarts, and how (``make run STATE=.local-stack/state``).

moto keeps everything in memory and has no persistence of its own, so the local stack saves what it can restore
faithfully and re-provisions the rest from the template:

- ``secrets.json``: the local secret values (App Certificate, REST credentials, NCS secret, uploader keys), written
  on the first start: the banner's ``NCS_SECRET`` and the emulator's REST credentials stay valid.
- ``identity.pem`` and ``identity.json``: the local issuer's signing key and key id: an ID token from
  ``POST /local/token`` before a restart is still accepted after it (until it expires).
- ``data/dynamodb/<logical id>.json``: every item of every table, saved on a clean stop (Ctrl-C, SIGTERM) and
  written back after provisioning; the stream pumps start after the restored records (their handlers saw them).
- ``data/s3/<logical id>/``: every object of every bucket (recordings' playlists, segments, screenshots), saved and
  written back the same way, with the bucket's notifications off meanwhile (nothing is processed twice).

Not kept: SQS messages in flight, Step Functions executions, and the emulator's running recorders and channels
(a recording still running at the stop is found gone by the reconciler after the restart).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from local.resources import LocalStack, Resource

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")


def _tables(stack: LocalStack) -> list[Resource]:
    return [r for kind in TABLE_TYPES for r in stack.by_type(kind)]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class StateDir:
    """One state directory (created when missing)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    # -- secrets and identity -------------------------------------------------------------------
    def load_secrets(self, cls: type[Any]) -> Any | None:
        """The saved secret values as ``cls`` (``local.run.Secrets``); None on a first start."""
        file = self.path / "secrets.json"
        if not file.is_file():
            return None
        saved = json.loads(file.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        fresh = cls()  # a field added since the save gets a fresh value
        return cls(**{name: saved.get(name, getattr(fresh, name)) for name in known})

    def save_secrets(self, value: Any) -> None:
        _write(self.path / "secrets.json", json.dumps(asdict(value), indent=2))
        with contextlib.suppress(OSError):
            os.chmod(self.path / "secrets.json", 0o600)

    def load_identity_key(self) -> tuple[bytes, str] | None:
        pem, meta = self.path / "identity.pem", self.path / "identity.json"
        if not (pem.is_file() and meta.is_file()):
            return None
        return pem.read_bytes(), str(json.loads(meta.read_text(encoding="utf-8"))["key_id"])

    def save_identity_key(self, pem: bytes, key_id: str) -> None:
        (self.path / "identity.pem").write_bytes(pem)
        with contextlib.suppress(OSError):
            os.chmod(self.path / "identity.pem", 0o600)
        _write(self.path / "identity.json", json.dumps({"key_id": key_id}))

    # -- data -------------------------------------------------------------------------------------
    @property
    def data(self) -> Path:
        return self.path / "data"

    def has_data(self) -> bool:
        return self.data.is_dir() and any(self.data.rglob("*.json"))

    def save_data(self, session: Any, stack: LocalStack) -> dict[str, int]:
        """Every table's items and every bucket's objects; counts by kind."""
        counts = {"items": 0, "objects": 0}
        ddb, s3 = session.client("dynamodb"), session.client("s3")
        for table in _tables(stack):
            items: list[dict[str, Any]] = []
            for page in ddb.get_paginator("scan").paginate(TableName=table.name, ConsistentRead=True):
                items.extend(page.get("Items", []))
            _write(self.data / "dynamodb" / f"{table.logical_id}.json", json.dumps(items))
            counts["items"] += len(items)
        for bucket in stack.by_type("AWS::S3::Bucket"):
            entries = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
                for obj in page.get("Contents", []):
                    got = s3.get_object(Bucket=bucket.name, Key=obj["Key"])
                    entries.append({
                        "key": obj["Key"], "content_type": got.get("ContentType"),
                        "metadata": got.get("Metadata") or {}, "body": base64.b64encode(got["Body"].read()).decode(),
                    })  # fmt: skip
            _write(self.data / "s3" / f"{bucket.logical_id}.json", json.dumps(entries))
            counts["objects"] += len(entries)
        return counts

    def restore_data(self, session: Any, stack: LocalStack) -> dict[str, int]:
        """Write the saved items and objects into the freshly provisioned resources; counts by kind."""
        counts = {"items": 0, "objects": 0}
        ddb, s3 = session.client("dynamodb"), session.client("s3")
        for table in _tables(stack):
            file = self.data / "dynamodb" / f"{table.logical_id}.json"
            if not file.is_file():
                continue
            items = json.loads(file.read_text(encoding="utf-8"))
            for start in range(0, len(items), 25):
                requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                pending: dict[str, Any] = {table.name: requests}
                while pending:
                    pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            counts["items"] += len(items)
        for bucket in stack.by_type("AWS::S3::Bucket"):
            file = self.data / "s3" / f"{bucket.logical_id}.json"
            if not file.is_file():
                continue
            entries = json.loads(file.read_text(encoding="utf-8"))
            notifications = s3.get_bucket_notification_configuration(Bucket=bucket.name)
            notifications.pop("ResponseMetadata", None)
            s3.put_bucket_notification_configuration(Bucket=bucket.name, NotificationConfiguration={})
            try:
                for entry in entries:
                    extra = {"ContentType": entry["content_type"]} if entry.get("content_type") else {}
                    s3.put_object(Bucket=bucket.name, Key=entry["key"], Body=base64.b64decode(entry["body"]),
                                  Metadata=entry.get("metadata") or {}, **extra)  # fmt: skip
            finally:
                s3.put_bucket_notification_configuration(Bucket=bucket.name, NotificationConfiguration=notifications)
            counts["objects"] += len(entries)
        return counts
