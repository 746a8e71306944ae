"""What the projects API answers: the response bodies of ``/projects*`` (certificates always masked),
documented in docs/openapi.json and checked against every answer by the API fuzz test."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CertificateView(BaseModel):
    enabled: bool
    sign_key: str | None = Field(description='"********" when a certificate is set: never the value')
    fingerprint: str | None = None


class ProjectView(BaseModel):
    project_id: str
    name: str
    app_id: str
    enabled: bool
    status: int
    created: str | None = None
    recording_server: str | None = None
    certificate: CertificateView
    serves_this_deployment: bool


class ProjectList(BaseModel):
    projects: list[ProjectView]


class UsageDay(BaseModel):
    date: str
    usage: dict[str, float]
    final: bool = Field(description="settled: Agora will not change it any more")


class UsageCacheStats(BaseModel):
    cached_days: int
    fetched_days: int


class Usage(BaseModel):
    project_id: str
    app_id: str
    business: str
    from_date: str
    to_date: str
    unit: str
    meta: dict[str, Any]
    days: list[UsageDay]
    totals: dict[str, float]
    cache: UsageCacheStats


class CertificateState(BaseModel):
    fingerprint: str | None = None
    previous_fingerprint: str | None = None
    secret_name: str
    secret_version_id: str | None = None


class TokensImpact(BaseModel):
    previous_tokens_valid: bool | None = None
    message: str
    token_function_picks_up_within_seconds: float = Field(
        description="0: from this answer on, every signer (tokens, recorder tokens) uses the new certificate"
    )
    waited_seconds: float = Field(
        default=0, description="how long the answer waited for every signer to re-confirm the certificate's version"
    )


class CertificateChange(BaseModel):
    project: ProjectView
    certificate: CertificateState
    tokens: TokensImpact
