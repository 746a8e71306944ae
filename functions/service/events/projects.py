"""``Certificate Rotated``: built by the projects function once the rotated certificate is in the token
function's secret (the rotation's durable write: Secrets Manager has no stream, so the function that made
the write sends the event). It names the project and the secret's new version, never the certificate.

De-duplication: the event id comes from (secret name, secret version id), unique per write; ``sequence`` is
the rotation's time in milliseconds (rotations of one project are ordered by it).
"""

from __future__ import annotations

from service.events.model import CertificateRotated, Event, Source


def certificate_rotated(*, project_id: str, app_id: str, secret_name: str, secret_version: str, at_ms: int) -> Event:
    source = Source(table=f"secret:{secret_name}", key=project_id, sequence=str(at_ms), occurred_at=None)
    detail = CertificateRotated(
        **source.common(CertificateRotated.DETAIL_TYPE, f"project:{project_id}", part=secret_version),
        project_id=project_id, app_id=app_id, secret_version=secret_version, previous_tokens_valid=False,
    )  # fmt: skip
    return Event(detail)
