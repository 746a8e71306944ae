"""``python -m agorakit m3u8 duration FILE|s3://bucket/key|-`` and ``m3u8 name KEY``.

``duration`` prints the playlist summary as JSON; ``duration_seconds`` is a string exact to the
microsecond (``"12345.678901"``), because a JSON number would be read back as a float by most tools.
S3 objects are streamed (boto3 imported only for s3://; ``AWS_ENDPOINT_URL`` is honoured by boto3).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

S3_CHUNK = 256 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("m3u8", help="HLS playlists and file names of Agora recordings")
    sub = parser.add_subparsers(dest="m3u8_command", required=True, metavar="SUBCOMMAND")
    duration = sub.add_parser("duration", help="exact duration and summary of a playlist (JSON)")
    duration.add_argument("source", help="a file path, s3://bucket/key, or - for stdin")
    duration.add_argument("--compact", action="store_true", help="one line of JSON")
    duration.set_defaults(func=run_duration)
    name = sub.add_parser("name", help="parse an Agora recording file name or object key (JSON)")
    name.add_argument("key")
    name.add_argument("--channel", help="the recording's channel name, to settle ambiguous names")
    name.set_defaults(func=run_name)


def run_duration(args: argparse.Namespace) -> int:
    from agorakit.m3u8.parser import parse_playlist

    source: str = args.source
    if source.startswith("s3://"):
        summary = summarize_s3(source)
    elif source == "-":
        summary = parse_playlist(sys.stdin.buffer)
    else:
        with open(source, "rb", buffering=0) as fh:
            summary = parse_playlist(fh)
    _print(summary.to_dict(), compact=args.compact)
    return 0


def summarize_s3(url: str) -> Any:
    """Stream s3://bucket/key through the parser; S3 failures become one-line AgorakitErrors."""
    from agorakit.errors import AgorakitError
    from agorakit.m3u8.parser import PlaylistParser

    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ValueError(f"expected s3://bucket/key, got {url!r}")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    parser = PlaylistParser()
    try:
        body = boto3.session.Session().client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        try:
            for chunk in body.iter_chunks(chunk_size=S3_CHUNK):
                parser.feed(chunk)
        finally:
            body.close()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AgorakitError(f"{url}: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")) from None
    except BotoCoreError as exc:
        raise AgorakitError(f"{url}: {exc}") from None
    return parser.close()


def run_name(args: argparse.Namespace) -> int:
    from agorakit.m3u8.filenames import parse_recording_filename

    parsed = parse_recording_filename(args.key, channel=args.channel)
    if parsed is None:
        raise ValueError(f"not an Agora recording file name: {args.key!r}")
    _print(parsed.to_dict(), compact=False)
    return 0


def _print(data: dict[str, Any], *, compact: bool) -> None:
    text = json.dumps(data, separators=(",", ":")) if compact else json.dumps(data, indent=2)
    sys.stdout.write(text + "\n")
