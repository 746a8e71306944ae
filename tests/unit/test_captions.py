"""agorakit.captions: transcripts and WebVTT written on a recording's time base and read back exactly."""

from __future__ import annotations

import pytest
from agorakit.captions import (
    CaptionError,
    Cue,
    Transcript,
    format_timestamp,
    merge,
    parse_timestamp,
    parse_transcript,
    parse_webvtt,
    to_webvtt,
    transcript_json,
)
from hypothesis import given
from hypothesis import strategies as st

BASE = 1_765_000_000_000


def cue(uid: int, start: int, end: int, text: str, lang: str = "en-US", **tr: str) -> Cue:
    return Cue(uid=uid, language=lang, start_ms=BASE + start, end_ms=BASE + end, text=text, translations=tr)


def test_timestamps_round_trip_past_99_hours() -> None:
    assert format_timestamp(0) == "00:00:00.000"
    assert format_timestamp(259_199_999) == "71:59:59.999"
    assert format_timestamp(360_000_000) == "100:00:00.000"
    assert parse_timestamp("71:59:59.999") == 259_199_999
    assert parse_timestamp("01:02.003") == 62_003  # the hours are optional in WebVTT
    for bad in ("1:2:3", "00:60:00.000", "00:00:61.000", "x"):
        with pytest.raises(CaptionError):
            parse_timestamp(bad)
    with pytest.raises(CaptionError):
        format_timestamp(-1)


def test_cues_are_written_on_the_given_base_clipped_and_escaped() -> None:
    cues = [
        cue(7, 5_000, 6_500, "second <b> & --> done"),
        cue(3, -4_000, -1_000, "before the recording"),  # wholly before the base: left out
        cue(3, -500, 2_000, "straddles the base"),  # clipped to 0
    ]
    text = to_webvtt(cues, BASE)
    assert text.startswith("WEBVTT\n\nNOTE base 1765000000000\n")
    assert "00:00:00.000 --> 00:00:02.000\n<v 3>straddles the base" in text
    assert "<v 7>second &lt;b&gt; &amp; --&gt; done" in text
    assert "before the recording" not in text
    base, parsed = parse_webvtt(text, language="en-US")
    assert base == BASE
    assert [(c.uid, c.start_ms, c.end_ms, c.text) for c in parsed] == [
        (3, 0, 2_000, "straddles the base"),
        (7, 5_000, 6_500, "second <b> & --> done"),
    ]


def test_a_language_track_takes_translations_and_skips_untranslated_cues() -> None:
    cues = [cue(1, 0, 1_000, "hello", **{"fr-FR": "bonjour"}), cue(2, 2_000, 3_000, "hola", lang="es-ES")]
    french = to_webvtt(cues, BASE, language="fr-FR")
    assert "bonjour" in french and "hola" not in french and "hello" not in french
    spanish = to_webvtt(cues, BASE, language="es-ES")
    assert "hola" in spanish and "hello" not in spanish


def test_transcript_json_round_trips_and_rejects_bad_documents() -> None:
    transcript = Transcript("A1", "room", ("en-US",), BASE, BASE + 9_000, (cue(1, 0, 800, "hi", **{"de-DE": "hallo"}),))
    assert parse_transcript(transcript_json(transcript)) == transcript
    for bad in (b"{", b"[]", b'{"format": "other"}', transcript_json(transcript).replace(b'"uid":1', b'"uid":"1"')):
        with pytest.raises(CaptionError):
            parse_transcript(bad)
    with pytest.raises(CaptionError):
        Cue(uid=1, language="en-US", start_ms=10, end_ms=5, text="backwards")


def test_malformed_webvtt_is_a_caption_error() -> None:
    for bad in ("", "NOT VTT", "WEBVTT\n\n1\nno timing\n", "WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nx\n"):
        with pytest.raises(CaptionError):
            parse_webvtt(bad)


def test_merge_counts_an_utterance_heard_by_a_restart_and_its_predecessor_once() -> None:
    old = Transcript(
        "A", "room", ("en-US",), BASE, BASE + 10_000, (cue(1, 1_000, 2_000, "one"), cue(1, 9_000, 9_900, "two"))
    )
    new = Transcript(
        "B",
        "room",
        ("en-US",),
        BASE + 9_000,
        BASE + 20_000,
        (cue(1, 9_000, 9_900, "two"), cue(2, 12_000, 13_000, "three")),
    )
    assert [c.text for c in merge([new, old])] == ["one", "two", "three"]


texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(lambda t: t.split())


@given(st.lists(st.tuples(st.integers(1, 2**32 - 1), st.integers(0, 10**9), st.integers(0, 10**6), texts), max_size=20))
def test_any_cues_round_trip_through_webvtt(items: list[tuple[int, int, int, str]]) -> None:
    cues = [Cue(uid=u, language="en-US", start_ms=BASE + s, end_ms=BASE + s + d, text=t) for u, s, d, t in items]
    _, parsed = parse_webvtt(to_webvtt(cues, BASE), language="en-US")
    expected = sorted(cues, key=lambda c: (c.start_ms, c.uid))
    assert [(c.uid, c.start_ms, c.end_ms, c.text) for c in parsed] == [
        (c.uid, c.start_ms - BASE, c.end_ms - BASE, " ".join(c.text.split())) for c in expected
    ]
