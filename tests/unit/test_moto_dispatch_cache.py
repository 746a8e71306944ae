"""``local.patches.moto_server_dispatch_cached``: moto's server answers the same service names, read once."""

from __future__ import annotations

import os


def test_the_cached_service_list_is_the_package_listing() -> None:
    import moto
    from moto import backends

    from local.patches import moto_server_dispatch_cached

    root = os.path.dirname(moto.__file__)
    listed = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)) and not n.startswith("__"))
    moto_server_dispatch_cached()
    moto_server_dispatch_cached()  # idempotent
    assert list(backends.list_of_moto_modules()) == listed
    assert "dynamodb" in backends.list_of_moto_modules() and "stepfunctions" in backends.list_of_moto_modules()
