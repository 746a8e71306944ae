"""The repository is the whole world: no tracked file may name a path outside the checkout.

A clone on a laptop or a CI runner has nothing beside it, so a path of the machine the code was written on
(a workspace folder, a home directory, a sibling notes folder) is a test that passes only there. Documents the
code cites must exist in the repository too.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Built from pieces so this file does not match itself.
_OUTSIDE = re.compile(
    "|".join(
        (
            r"(?<![\w.~-])/" + "work/",  # the development machine's workspace
            r"(?<![\w.~-])/" + r"(?:root|home/\w+|Users/\w+)/(?!\.pyenv)",  # home directories
            r"\.\./" + "shared/",  # the notes folder beside the checkout
            "CONTRACTS" + r"(?:\.md| [A-G]\b)",  # documents that never were in the repository
            "serverless-" + r"notes\b",
        )
    )
)
_DOC_REFERENCE = re.compile(r"(?<![\w/.-])(docs/[\w./-]+\.(?:md|json|png|svg|dot))")


def _tracked_text_files() -> list[Path]:
    try:
        names = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout.split(b"\0")
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    files = []
    for name in filter(None, names):
        path = ROOT / name.decode()
        if path.is_file() and path.suffix not in {".png", ".jpg", ".ico", ".gz", ".zip"}:
            files.append(path)
    return files


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    return None if b"\0" in data else data.decode("utf-8", errors="replace")


@pytest.mark.slow  # `git ls-files` is a child process
def test_no_tracked_file_names_a_path_outside_the_checkout() -> None:
    offenders = []
    for path in _tracked_text_files():
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if _OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


@pytest.mark.slow  # `git ls-files` is a child process
def test_every_cited_document_exists() -> None:
    missing = []
    for path in _tracked_text_files():
        text = _text(path)
        if text is None or path.suffix == ".json":
            continue
        for reference in _DOC_REFERENCE.findall(text):
            if not (ROOT / reference.rstrip(".")).exists():
                missing.append(f"{path.relative_to(ROOT)} cites {reference}")
    assert not missing, "\n".join(sorted(set(missing)))


#: the lead-in that said nothing about its file ("one test per case against one fixture" fits every test module)
_STOCK_LENGTH_SENTENCE = re.compile(r"Over 400 lines on purpose: one (test|assertion group) per ")


@pytest.mark.slow  # `git ls-files` is a child process
def test_no_file_explains_its_length_with_the_stock_sentence() -> None:
    """A long module may say at its top why it is one file, but only with a reason of its own (issue 19)."""
    stock = []
    for path in _tracked_text_files():
        if path.suffix == ".py" and _STOCK_LENGTH_SENTENCE.search("\n".join(path.read_text("utf-8").splitlines()[:40])):
            stock.append(str(path.relative_to(ROOT)))
    assert not stock, "a stock sentence about the file's length (say why this file is one, or nothing):\n" + "\n".join(
        stock
    )
