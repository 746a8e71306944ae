"""The stack's CloudFormation template, synthesized in-process by ``app.py`` (no cdk CLI, no bundling).

Both keep the template under ``.cache/local-stack/`` keyed on a hash of everything it is made from (``infra/``,
``functions/`` (the constructs import domain constants, and the code assets are hashed), ``app.py``,
``cdk.json``, the requirement pins, the context and the stack's environment variables).
``synth_template`` (tests, ``make openapi``) synthesizes a miss in this process, once per context per process;
the tests' workers then share one synthesis per context, and a later run none. ``cached_template`` is what
``make run`` uses: a miss synthesizes in a child process of its own session, so the local stack never loads
jsii (no Node.js process to break on Ctrl-C, nothing left in the temporary directory).
``python -m local.synth CONTEXT_JSON OUT`` is that child. ``AGORA_TEMPLATE_CACHE=off`` turns the disk cache
off for ``synth_template`` (every process synthesizes).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTEXT: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
#: what the synthesized template is made of (besides the context and the environment)
TEMPLATE_INPUTS = (
    "infra", "functions", "app.py", "cdk.json", "requirements.txt", "requirements-dev.txt", "local/synth.py",
)  # fmt: skip
DEFAULT_CACHE_DIR = ROOT / ".cache" / "local-stack"
#: cached templates kept (one per context: the tests use about ten; the oldest go first)
CACHE_KEEP = 16


def quiet_node_end_of_life() -> None:
    """jsii prints a 12-line box when Node.js is past its end of life; silence it for the running Node major
    (the variable takes the Node major versions to silence, not a flag). Called before jsii is first imported,
    so a user's own tests that synthesize (``LocalRuntime``, ``synth_template``) do not print it either;
    ``make deploy`` runs the cdk CLI, which still shows it."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    if "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" in os.environ:
        return
    node = shutil.which("node")
    if node is None:
        return
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return
    major = version.strip().lstrip("v").split(".")[0]
    if major.isdigit():
        os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = major


def _merged(context: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULT_CONTEXT, **(context or {})}
    merged["aws:cdk:bundling-stacks"] = []
    return merged


def synth_template(context: dict[str, Any] | None = None, cache_dir: Path | None = DEFAULT_CACHE_DIR) -> dict[str, Any]:
    """The stack's CloudFormation template as a dict (bundling skipped): from the disk cache (``cache_dir``, None
    or ``AGORA_TEMPLATE_CACHE=off``: none), else synthesized in this process; once per context per process."""
    if os.environ.get("AGORA_TEMPLATE_CACHE", "").lower() in ("off", "0", "no"):
        cache_dir = None
    return json.loads(_template_text(json.dumps(_merged(context), sort_keys=True), cache_dir))


@functools.cache
def _template_text(context_json: str, cache_dir: Path | None) -> str:
    if cache_dir is None:
        return _synth_in_process(context_json)
    path = cache_dir / f"template-{template_key(json.loads(context_json))}.json"
    return _through_cache(path, lambda: _synth_in_process(context_json))[0]


def _through_cache(path: Path, synthesize: Callable[[], str]) -> tuple[str, bool]:
    """(the template's text, whether it came from the cache file ``path``). A miss synthesizes under the file's
    lock: another process missing it at the same time (``make run`` and ``make demo``, two test workers) waits,
    then reads what the first stored instead of synthesizing it a second time."""
    text = _read_cached(path)
    if text is not None:
        return text, True
    with _held(path.with_name(f".{path.stem}.lock")):
        text = _read_cached(path)
        if text is not None:
            return text, True
        text = synthesize()
        try:
            _store(path, text)
        except OSError as exc:  # a read-only checkout still synthesizes, only without the cache
            print(f"  ! the template cache {path.parent} is not writable ({exc.strerror}): not cached", file=sys.stderr)
    return text, False


def _read_cached(path: Path) -> str | None:
    """The cached template's text at ``path`` (marked most recently used), or None: missing, unreadable or torn."""
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)  # a torn or hand-edited file is a miss
    except (ValueError, OSError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: pruned last
    return text


@contextlib.contextmanager
def _held(lock: Path) -> Iterator[None]:
    """An exclusive lock on ``lock`` (released when this process ends, however it ends); none if it cannot be made."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = lock.open("a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _synth_in_process(context_json: str) -> str:
    quiet_node_end_of_life()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from aws_cdk.assertions import Template

    import app

    # the cloud assembly goes to a directory removed afterwards (CDK's default is a fresh temporary one per app)
    with tempfile.TemporaryDirectory(prefix="agora-synth-") as outdir:
        # without cdk-nag's validation: it only reports (tests/infra/test_local_template.py: the same template)
        _, stack = app.build_app(context=json.loads(context_json), outdir=outdir, nag=False)
        return json.dumps(Template.from_stack(stack).to_json())


def _environment_inputs() -> dict[str, str]:
    """The environment variables the stack's settings read (``infra.settings.KEYS``): they change the template."""
    from infra.settings import KEYS

    return {env: os.environ[env] for _, env in sorted(KEYS.values()) if env in os.environ}


def template_key(context: dict[str, Any] | None = None, root: Path = ROOT) -> str:
    """A hash of everything the template is made of: a changed file, pin, context value or setting changes it."""
    digest = hashlib.sha256()
    for name in TEMPLATE_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(file.read_bytes() if file.is_file() else b"<missing>")
            digest.update(b"\0")
    digest.update(json.dumps(_merged(context), sort_keys=True).encode())
    digest.update(json.dumps(_environment_inputs(), sort_keys=True).encode())
    return digest.hexdigest()[:32]


def cached_template(
    context: dict[str, Any] | None = None, cache_dir: Path | None = DEFAULT_CACHE_DIR
) -> tuple[dict[str, Any], bool]:
    """(template, whether it came from the cache). ``cache_dir`` None: synthesize (in a child process) every time.

    A miss synthesizes in a child process in a session of its own (a Ctrl-C to the terminal's process group does
    not reach its Node.js; if this process is interrupted meanwhile, the child is killed)."""
    if cache_dir is None:
        return json.loads(_synth_in_child(context)), False
    path = cache_dir / f"template-{template_key(context)}.json"
    text, cached = _through_cache(path, lambda: _synth_in_child(context))
    return json.loads(text), cached


def _synth_in_child(context: dict[str, Any] | None) -> str:
    """The template's JSON text, from ``python -m local.synth`` in a child process of its own session."""
    with tempfile.TemporaryDirectory(prefix="agora-synth-") as work:
        request, out = Path(work) / "context.json", Path(work) / "template.json"
        request.write_text(json.dumps(_merged(context)), encoding="utf-8")
        child = subprocess.Popen(
            [sys.executable, "-m", "local.synth", str(request), str(out)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "TMPDIR": work},
        )  # fmt: skip
        try:
            output, _ = child.communicate()
        except BaseException:
            child.kill()
            child.wait()
            raise
        if child.returncode != 0 or not out.is_file():
            lines = output.decode(errors="replace").strip().splitlines()
            raise RuntimeError("\n".join(lines[-15:]) or f"synth exited {child.returncode}")
        return out.read_text(encoding="utf-8")


def _store(path: Path, text: str) -> None:
    """Write atomically (two stacks starting at once may both write), then keep the ``CACHE_KEEP`` newest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    kept = sorted(path.parent.glob("template-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[CACHE_KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()
            old.with_name(f".{old.stem}.lock").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    """``python -m local.synth CONTEXT_JSON OUT``: synthesize with that context, write the template to OUT."""
    context = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Path(argv[1]).write_text(json.dumps(synth_template(context, cache_dir=None)), encoding="utf-8")  # parent stores
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
