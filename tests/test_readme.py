"""README runs: every python and bash block is executed, and its demo table is the demo's.

Fenced blocks tagged ``python`` run in document order in one namespace; blocks tagged
``bash`` run with ``bash -euo pipefail``; both in a scratch folder that holds a link to
the repository's ``configs/`` (README's relative paths), with a throwaway MLflow store.
A bash block made only of ``make`` commands is the entry point CI itself runs
(``.ci/run`` calls ``make test``; the demo table test runs what ``make demo`` runs), so
here each target is checked to exist. Untagged blocks are diagrams, not code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DEMO_TABLE = re.compile(r"<!-- demo-table -->\n(.*?)\n<!-- /demo-table -->", re.DOTALL)


def code_blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, code, line number) of each fenced block."""
    return [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)
    ]


def _is_make_only(code: str) -> bool:
    lines = [line.split("#")[0].strip() for line in code.splitlines()]
    return all(not line or line.startswith("make ") for line in lines)


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("NEEDSID_SALT", "readme-test-salt-0123456789")
    return tmp_path


def test_the_block_parser_finds_every_fence():
    text = "x\n```python\na = 1\n```\ny\n```bash\nls\n```\n```\ntree\n```\n"
    assert code_blocks(text) == [("python", "a = 1\n", 2), ("bash", "ls\n", 6), ("", "tree\n", 9)]
    assert _is_make_only("make demo   # runs it\nmake test\n")
    assert not _is_make_only("make test\nneedsid demo\n")


def test_readme_has_runnable_blocks_of_both_kinds():
    langs = [lang for lang, _, _ in code_blocks(README.read_text("utf-8"))]
    assert langs.count("python") >= 3 and langs.count("bash") >= 2
    assert set(langs) <= {"python", "bash", ""}, (
        "tag a block python or bash, or leave it a diagram"
    )


def test_make_blocks_name_real_targets():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    for lang, code, line in code_blocks(README.read_text("utf-8")):
        if lang == "bash" and _is_make_only(code):
            for command in filter(None, (c.split("#")[0].strip() for c in code.splitlines())):
                assert command.split()[1] in targets, f"README line {line}: {command}"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_readme_python_blocks_run(scratch):
    namespace: dict = {"__name__": "__readme__"}
    for lang, code, line in code_blocks(README.read_text("utf-8")):
        if lang == "python":
            try:
                exec(compile(code, f"README.md:{line}", "exec"), namespace)
            except Exception as exc:  # name the block, keep the traceback
                raise AssertionError(f"README.md python block at line {line} failed") from exc
    assert (scratch / "data" / "sim" / "records.parquet").is_file()
    assert (scratch / "run.html").is_file()


@pytest.mark.slow
def test_readme_bash_blocks_run(scratch):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = 0
    for lang, code, line in code_blocks(README.read_text("utf-8")):
        if lang != "bash" or _is_make_only(code):
            continue
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"README.md bash block at line {line}:\n{done.stderr[-3000:]}"
        ran += 1
    assert ran >= 1
    assert (scratch / "flags.parquet").is_file()


@pytest.mark.slow
def test_readme_demo_table_is_the_demos_output():
    from needsid._demo import run_demo

    found = DEMO_TABLE.search(README.read_text("utf-8"))
    assert found, "README lost its <!-- demo-table --> markers"
    expected = run_demo(n_households=50_000, seed=0).markdown()
    assert found.group(1).strip() == expected, (
        "README's demo table is stale: paste the output of `needsid demo --markdown`"
    )
