"""A stopped recording's upload status, settled from the bucket when Agora never said it (issue 21).

Agora says whether a stopped recording's files reached the bucket twice: in the stop reply
(``serverResponse.uploadingStatus``) and in NCS event 31 (uploaded) or 32 (backed up, uploaded later). Both can
be lost (a 206/65 on stop, an NCS delivery that never comes), which left ``uploading_status`` null for good
although the files are there. The bucket and the playlists answer the same question:

- ``uploaded``: every main playlist of the recording's folder is final (``#EXT-X-ENDLIST``) and every segment
  it references is in the folder with a non-zero size. Written once (``uploadingStatusFrom: bucket``), unless
  an NCS 31/32 (sequenced, ``uploadSeq``) has said something since: that one is Agora's word and wins;
- ``incomplete``: the playlists are final but segments are missing or empty; shown, not written (Agora's
  backup upload may still bring them, and the next read looks again);
- None: no playlist yet, or one is not final: the recorder may still be writing.

Costs one ``ListObjectsV2`` page per 1,000 objects and one read per main playlist, on a read of a stopped
recording whose status is unknown; once written, nothing.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import Literal

from service.recordings.playback import _is_main, recording_prefix
from service.recordings.ports import RecordingObjects, RecordingStore
from service.recordings.record import Recording

Settled = Literal["uploaded", "incomplete"]
UPLOADED: Settled = "uploaded"
INCOMPLETE: Settled = "incomplete"


def needs_settling(rec: Recording) -> bool:
    return rec.status == "STOPPED" and bool(rec.sid) and not rec.upload.status


def settle_from_bucket(rec: Recording, objects: RecordingObjects, *, max_bytes: int) -> Settled | None:
    """What the recording's folder says of its upload (see the module docstring)."""
    from agorakit.m3u8.playback import scoped_key, segment_uris

    prefix = recording_prefix(rec)
    sizes = objects.list(prefix)
    main = [k for k in sorted(sizes) if k.lower().endswith(".m3u8") and _is_main(posixpath.basename(k))]
    if not main:
        return None
    complete = True
    for key in main:
        text = objects.read(key, max_bytes).decode("utf-8", errors="replace")
        if "#EXT-X-ENDLIST" not in {line.strip() for line in text.splitlines()}:
            return None
        for uri in segment_uris(text):
            segment, _ = scoped_key(key, uri, prefix)
            if segment is None or not sizes.get(segment):
                complete = False
    return UPLOADED if complete else INCOMPLETE


def settled_item(
    rec: Recording, *, repo: RecordingStore, objects: RecordingObjects | None, max_bytes: int
) -> Recording:
    """``rec`` with its upload status settled from the bucket when it needs it (``uploaded`` is written)."""
    if objects is None or not needs_settling(rec):
        return rec
    settled = settle_from_bucket(rec, objects, max_bytes=max_bytes)
    if settled is None:
        return rec
    shown = replace(rec, upload=replace(rec.upload, status=settled, status_from="bucket"))
    if settled == UPLOADED:
        fields = {"uploadingStatus": settled, "uploadingStatusFrom": "bucket"}
        written = repo.set_if_newer(rec.recording_id, "uploadSeq", None, fields)
        # written: ours; not written: an NCS 31/32 got there first, and Agora's word is the stored one
        return repo.get(rec.recording_id) or (shown if written else rec)
    return shown
