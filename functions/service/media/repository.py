"""The MediaTable (pk ``sid``, sk ``key``; the totals item is sk ``#TOTALS``) and reading playlists from S3.

Plain botocore clients (``service.adapters.aws``); items are converted by ``service.adapters.dynamodb``.
``MediaRepository(table).totals_for_sid(sid)`` is what the recordings API shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import error_code, from_item, from_items, is_condition_failed, to_item
from service.media.integrity import INTEGRITY_KEY
from service.media.logic import TOTALS_KEY, ObjectChanged, ObjectGone

PK = "sid"
SK = "key"
_NAMES = {"#pk": PK, "#sk": SK}


class MediaRepository:
    def __init__(self, table_name: str, *, client: Any = None):
        self._table = table_name
        self._client = client

    client = LazyClient("dynamodb")

    # ---- the recordings API's view ---------------------------------------------------------

    def totals_for_sid(self, sid: str) -> dict[str, Any] | None:
        """The sid's durations (see ``logic.compute_totals``), or None if no playlist of it was seen."""
        item = self._get(sid, TOTALS_KEY, attributes=None)
        if item is None or "duration_us" not in item:
            return None
        for internal in (PK, SK, "revision"):
            item.pop(internal, None)
        item["sid"] = sid
        return item

    def files_for_sid(self, sid: str) -> list[dict[str, Any]]:
        return self.file_items(sid)

    # ---- MediaStore -------------------------------------------------------------------------

    def order_of(self, sid: str, key: str) -> tuple[str, str] | None:
        item = self._get(sid, key, attributes="sequencer, event_time")
        return None if item is None else (str(item.get("sequencer", "")), str(item.get("event_time") or ""))

    def put_file(self, item: dict[str, Any]) -> bool:
        """Conditional on the stored (sequencer, event time) being older than the item's."""
        from botocore.exceptions import ClientError

        condition = "attribute_not_exists(#sk) OR #seq < :seq"
        names = {"#sk": SK, "#seq": "sequencer"}
        values = {":seq": {"S": item["sequencer"]}}
        if item.get("event_time"):
            condition += " OR (#seq = :seq AND (attribute_not_exists(#t) OR #t < :t))"
            names["#t"] = "event_time"
            values[":t"] = {"S": str(item["event_time"])}
        try:
            self.client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if is_condition_failed(exc):
                return False
            raise
        return True

    def bump_revision(self, sid: str) -> int:
        out = self.client.update_item(
            TableName=self._table,
            Key={PK: {"S": sid}, SK: {"S": TOTALS_KEY}},
            UpdateExpression="ADD #rev :one",
            ExpressionAttributeNames={"#rev": "revision"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["revision"]["N"])

    def file_items(self, sid: str) -> list[dict[str, Any]]:
        return [item for item in self._query(sid) if not str(item.get(SK, "")).startswith("#")]

    def integrity(self, sid: str) -> dict[str, Any] | None:
        """The last integrity check of the sid (``service.media.integrity``), or None."""
        return self._get(sid, INTEGRITY_KEY, attributes=None)

    def put_integrity(self, sid: str, item: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(
                TableName=self._table,
                Item=to_item({**item, PK: sid, SK: INTEGRITY_KEY}),
                ConditionExpression="attribute_not_exists(#at) OR #at <= :at",
                ExpressionAttributeNames={"#at": "checked_at"},
                ExpressionAttributeValues={":at": {"N": str(int(item["checked_at"]))}},
            )
        except ClientError as exc:
            if is_condition_failed(exc):
                return False  # a later check is stored
            raise
        return True

    def put_totals(self, sid: str, totals: dict[str, Any], revision: int) -> bool:
        from botocore.exceptions import ClientError

        item = {**totals, PK: sid, SK: TOTALS_KEY, "revision": revision}
        try:
            self.client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="#rev = :rev",
                ExpressionAttributeNames={"#rev": "revision"},
                ExpressionAttributeValues={":rev": {"N": str(revision)}},
            )
        except ClientError as exc:
            if is_condition_failed(exc):
                return False  # a newer event bumped the revision: its refresh sees this file too
            raise
        return True

    # ---- helpers ------------------------------------------------------------------------------

    def _get(self, sid: str, key: str, *, attributes: str | None) -> dict[str, Any] | None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {PK: {"S": sid}, SK: {"S": key}},
            "ConsistentRead": True,
        }
        if attributes:
            request["ProjectionExpression"] = attributes
        item = self.client.get_item(**request).get("Item")
        return from_item(item)

    def _query(self, sid: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PK},
            "ExpressionAttributeValues": {":pk": {"S": sid}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**request)
            yield from from_items(page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class S3Objects:
    """Reads one version of an object in chunks (the parser never holds the whole playlist)."""

    def __init__(self, *, chunk_size: int = 256 * 1024, client: Any = None):
        self._chunk_size = chunk_size
        self._client = client

    client = LazyClient("s3")

    def chunks(self, bucket: str, key: str, *, etag: str | None, version_id: str | None) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        elif etag:
            request["IfMatch"] = etag if etag.startswith('"') else f'"{etag}"'
        try:
            body = self.client.get_object(**request)["Body"]
        except ClientError as exc:
            code = error_code(exc)
            if code in ("NoSuchKey", "NoSuchVersion", "404"):
                raise ObjectGone(f"s3://{bucket}/{key}") from None
            if code in ("PreconditionFailed", "412"):
                raise ObjectChanged(f"s3://{bucket}/{key}") from None
            raise
        try:
            yield from body.iter_chunks(chunk_size=self._chunk_size)
        finally:
            body.close()

    # ---- integrity (service.media.integrity.Listing) ---------------------------------------------

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = self.client.list_objects_v2(**request)
            for entry in page.get("Contents") or []:
                found[str(entry["Key"])] = int(entry.get("Size") or 0)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found
            request["ContinuationToken"] = token

    def text(self, bucket: str, key: str) -> str | None:
        try:
            data = b"".join(self.chunks(bucket, key, etag=None, version_id=None))
        except ObjectGone:
            return None
        return data.decode("utf-8", errors="replace")
