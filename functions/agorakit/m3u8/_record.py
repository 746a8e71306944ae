"""``record``: what ``@dataclass(frozen=True, slots=True)`` gives the parser's results, without its import.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``): about a quarter of the
parser's import time, paid by every process that sums a playlist (the m3u8 bench measures whole
processes; the media function at cold start). Type checkers see the real ``dataclass`` (see
``parser.py``); at run time this builds the same surface: keyword or positional construction with
defaults, ``__slots__``, immutability, ``==`` by type and fields, ``repr``, ``hash`` by fields and pickling.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a record (the name ``dataclasses`` uses)."""


def record(cls: type) -> type:
    """Rebuild ``cls`` (its annotations in order are the fields) as an immutable slotted record."""
    # the class's own annotations, in order (inspect.get_annotations would import inspect)
    names = tuple(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    if not all(n.isidentifier() for n in names):
        raise TypeError(f"{cls.__name__}: field names must be identifiers")
    namespace = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
    namespace["__slots__"] = names
    namespace["__match_args__"] = names

    # __init__ is generated, as dataclasses does: a plain signature is checked by the interpreter and
    # costs one call per field (the parser builds up to a thousand tags).
    params = ", ".join(f"{n}=_d_{n}" if n in defaults else n for n in names)
    body = "".join(f"\n    _set(self, {n!r}, {n})" for n in names) or "\n    pass"
    scope: dict[str, Any] = {"_set": object.__setattr__, **{f"_d_{n}": v for n, v in defaults.items()}}
    exec(f"def __init__(self, {params}):{body}", scope)  # noqa: S102 - our own field names, checked below
    __init__ = scope["__init__"]

    def _fields(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in names)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _fields(self) == _fields(other)

    def __hash__(self: Any) -> int:
        return hash(_fields(self))

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{cls.__qualname__}({inner})"

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return (self.__class__, _fields(self))

    for fn in (__init__, __eq__, __hash__, __repr__, __setattr__, __delattr__, __reduce__):
        fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
        namespace[fn.__name__] = fn
    return type(cls)(cls.__name__, cls.__bases__, namespace)
