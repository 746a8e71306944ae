"""Settings: one validated pydantic model per function, read from the environment once at cold start.

Field names map to upper-case environment variables (``table_name`` <- ``TABLE_NAME``). Logic receives
the model; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict


class FunctionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        values = {}
        for name, info in cls.model_fields.items():
            key = (info.alias or name).upper()
            if key in env:
                values[name] = env[key]
        return cls.model_validate(values)
