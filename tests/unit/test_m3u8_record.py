"""The parser's result types behave like the frozen, slotted dataclasses they are declared as."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

import pytest
from agorakit.m3u8._record import FrozenInstanceError, record
from agorakit.m3u8.parser import AgoraTag, parse_playlist


@dataclasses.dataclass(frozen=True, slots=True)
class Real:
    name: str
    line: int
    attributes: dict[str, str]
    time: datetime | None = None


@record
class Light:
    name: str
    line: int
    attributes: dict[str, str]
    time: datetime | None = None

    def label(self) -> str:
        return f"{self.name}@{self.line}"


WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def test_construction_defaults_and_repr_match_a_dataclass():
    for args, kwargs in [(("A", 1, {}), {}), (("A",), {"line": 2, "attributes": {"K": "V"}, "time": WHEN})]:
        real, light = Real(*args, **kwargs), Light(*args, **kwargs)
        assert repr(light).replace("Light", "Real") == repr(real)
        assert (light.name, light.line, light.attributes, light.time) == (
            real.name,
            real.line,
            real.attributes,
            real.time,
        )
    assert Light("A", 1, {}).label() == "A@1"  # methods are kept
    assert Light.__slots__ == ("name", "line", "attributes", "time")
    assert not hasattr(Light("A", 1, {}), "__dict__")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), (("A",), {}), (("A", 1, {}, None, 5), {}), (("A", 1, {}), {"bogus": 1}), (("A", 1, {}), {"line": 2})],
)
def test_bad_construction_is_a_type_error_like_a_dataclass(args, kwargs):
    with pytest.raises(TypeError):
        Real(*args, **kwargs)
    with pytest.raises(TypeError):
        Light(*args, **kwargs)


def test_frozen_equal_hashable_and_picklable():
    a, b = Light("A", 1, (), WHEN), Light("A", 1, (), WHEN)
    assert a == b and hash(a) == hash(b)
    assert a != Light("A", 2, (), WHEN)
    assert a != Real("A", 1, (), WHEN)  # another type is never equal, as with dataclasses
    with pytest.raises(FrozenInstanceError):
        a.line = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del a.name  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(a)) == a  # noqa: S301 - our own bytes
    with pytest.raises(TypeError):
        hash(Light("A", 1, {}))  # a dict field: unhashable, as with dataclasses


def test_the_parser_results_use_it():
    summary = parse_playlist(b"#EXTM3U\n#EXTINF:1.5,\na.ts\n#EXT-X-AGORA-ROTATE:TIME=20240101000000000\n")
    assert summary.agora_tags == (AgoraTag("EXT-X-AGORA-ROTATE", 4, {"TIME": "20240101000000000"}, WHEN),)
    assert pickle.loads(pickle.dumps(summary)) == summary  # noqa: S301 - our own bytes
    with pytest.raises(AttributeError):
        summary.segments = 2  # type: ignore[misc]
