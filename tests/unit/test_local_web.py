"""The web example's server: static files from examples/web only, and a generated config.js."""

from __future__ import annotations

import json

from local.web import WebServer, local_config


def _server() -> WebServer:
    users = [{"username": "host-1", "groups": ["hosts"]}]
    return WebServer(host="127.0.0.1", port=0, config_js=local_config("http://127.0.0.1:9", users))


def test_index_assets_and_generated_config() -> None:
    web = _server()
    status, kind, body = web.resolve("/")
    assert status == 200 and kind.startswith("text/html") and b'<script src="app.js">' in body
    status, kind, body = web.resolve("/app.js?v=1")
    assert status == 200 and "javascript" in kind and b"renewToken" in body
    status, _, body = web.resolve("/config.js")
    text = body.decode()
    assert status == 200 and text.startswith("window.AGORA_SERVERLESS_CONFIG = ")
    config = json.loads(text.removeprefix("window.AGORA_SERVERLESS_CONFIG = ").rstrip(";\n"))
    assert config["apiUrl"] == "http://127.0.0.1:9" and config["signIn"] == "local"
    assert config["localEvents"] is True  # the page follows GET /local/events (a deployed config.js says nothing)
    assert config["localUsers"] == [{"username": "host-1", "groups": ["hosts"]}]


def test_nothing_outside_the_example_directory() -> None:
    web = _server()
    for target in ("/../../README.md", "/%2e%2e/%2e%2e/README.md", "/..%2f..%2fREADME.md", "/nope.html", "/../local/"):
        assert web.resolve(target)[0] == 404, target


def test_make_run_drops_emf_metric_lines_only() -> None:
    import contextlib
    import io

    from local.run import _DropMetricLines

    raw = io.StringIO()
    with contextlib.redirect_stdout(_DropMetricLines(raw)):
        print('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"ColdStart":[1.0]}')
        print("  POST /tokens -> 200 (12 ms)")
        print('{"level":"WARNING","message":"kept"}')
    assert raw.getvalue() == '  POST /tokens -> 200 (12 ms)\n{"level":"WARNING","message":"kept"}\n'
