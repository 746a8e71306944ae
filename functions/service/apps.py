"""The one app of a Lambda environment: built by a function's ``handler`` on its first call, from the environment.

Every function module has ``create_app(settings, deps)`` (tests build as many as they like, each with its own
dependencies) and a ``DefaultApp`` that builds the environment's app lazily, once (a cold start), so importing
a handler reads no environment. ``reset()`` forgets it: the local stack and the workflow tests start a new
environment that way. Resolver-based functions find the app serving the current request through ``serving``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

App = TypeVar("App")


class DefaultApp(Generic[App]):
    """``build()`` called on the first ``get()`` (under a lock), its result kept until ``reset()``."""

    def __init__(self, build: Callable[[], App]):
        self._build = build
        self._app: App | None = None
        self._lock = threading.Lock()

    def get(self) -> App:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    def reset(self) -> None:
        with self._lock:
            self._app = None


class Serving(Generic[App]):
    """The app serving the current request, for routes registered once on a module's resolver."""

    def __init__(self, name: str):
        self._var: ContextVar[App] = ContextVar(name)

    @contextmanager
    def use(self, app: App) -> Iterator[App]:
        token = self._var.set(app)
        try:
            yield app
        finally:
            self._var.reset(token)

    def get(self) -> App:
        return self._var.get()
