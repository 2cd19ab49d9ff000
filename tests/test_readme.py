"""README and docs run: every python block is executed, and the demo table is the demo's.

Fenced blocks tagged ``python`` run in document order in one namespace; blocks tagged
``bash`` run with ``bash -euo pipefail``; both in a scratch folder that holds a link to
the repository's ``configs/`` (README's relative paths), with a throwaway MLflow store.
A bash block made only of ``make`` commands is the entry point CI itself runs
(``.ci/run`` calls ``make test``; the demo table test runs what ``make demo`` runs), so
here each target is checked to exist. Untagged blocks are diagrams, not code.

The documentation site (``docs/``) is held to the same standard: the python blocks of
every Markdown page run the same way, one namespace per page; every ``needsid`` command
line and ``make`` target in its bash blocks must exist (the README test runs the
commands themselves); and ``mkdocs build --strict`` must pass.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# every Markdown page of the site but its build output
DOC_PAGES = sorted(p for p in DOCS.rglob("*.md") if "site" not in p.relative_to(DOCS).parts)
GUIDE = DOCS / "pages" / "guide"
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


def _make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_make_blocks_name_real_targets():
    targets = _make_targets()
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


# -- the documentation site ---------------------------------------------------------------


def _page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def _shell_lines(code: str) -> list[str]:
    """Commands of a bash block: comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [c for c in (line.split("#")[0].strip() for line in joined.splitlines()) if c]


def test_docs_pages_are_found_and_every_guide_page_has_python():
    assert DOCS / "contract.md" in DOC_PAGES
    guide = [p for p in DOC_PAGES if p.parent == GUIDE and p.name != "index.md"]
    assert len(guide) >= 10
    for page in guide:
        langs = [lang for lang, _, _ in code_blocks(page.read_text("utf-8"))]
        assert "python" in langs, f"{_page_id(page)} has no python block"
    for page in DOC_PAGES:
        langs = {lang for lang, _, _ in code_blocks(page.read_text("utf-8"))}
        assert langs <= {"python", "bash", "", "text"}, f"{_page_id(page)}: {langs}"


def test_docs_pages_point_at_nothing_outside_the_repository():
    for page in DOC_PAGES:
        text = page.read_text("utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:|#", target):
                continue
            resolved = (page.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), f"{_page_id(page)} links outside: {target}"
        assert "shared/" not in text, f"{_page_id(page)} names a path outside the repository"


def test_docs_bash_blocks_name_real_commands_and_options():
    import typer
    import typer.main

    from needsid.cli import app

    group = typer.main.get_command(app)
    root = typer.Context(group, info_name="needsid")
    targets = _make_targets()
    checked = 0
    for page in DOC_PAGES:
        for lang, code, line in code_blocks(page.read_text("utf-8")):
            if lang != "bash":
                continue
            for command in _shell_lines(code):
                words = shlex.split(command)
                where = f"{_page_id(page)} line {line}: {command}"
                if words[0] == "make":
                    assert words[1] in targets, where
                if words[0] != "needsid":
                    continue
                sub = group.get_command(root, words[1])
                assert sub is not None, where
                ctx = typer.Context(sub, info_name=words[1], parent=root)
                options = {o for p in sub.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
                for word in words[2:]:
                    if word.startswith("--"):
                        assert word.split("=")[0] in options, f"{where}: no option {word}"
                checked += 1
    assert checked >= 10


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [p for p in DOC_PAGES if any(lang == "python" for lang, _, _ in code_blocks(p.read_text()))],
    ids=_page_id,
)
def test_docs_python_blocks_run(page, scratch):
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for lang, code, line in code_blocks(page.read_text("utf-8")):
        if lang == "python":
            try:
                exec(compile(code, f"{_page_id(page)}:{line}", "exec"), namespace)
            except Exception as exc:  # name the block, keep the traceback
                raise AssertionError(f"{_page_id(page)} python block at line {line}") from exc
            ran += 1
    assert ran >= 1


@pytest.mark.slow
def test_docs_site_builds_strictly(tmp_path):
    # no --quiet: it lowers mkdocs' log level to ERROR, and warnings then go uncounted
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(DOCS / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    site = tmp_path / "site"
    for page in ("index.html", "contract/index.html", "reference/cli/index.html",
                 "reference/api/features/index.html", "notebooks/01_quickstart/index.html",
                 "reference/experiments/index.html", "readme/index.html"):  # fmt: skip
        assert (site / page).is_file(), page
    cli = (site / "reference/cli/index.html").read_text("utf-8")
    assert "needsid flag" in cli and "--capacity" in cli
    assert not (DOCS / ".cache").exists(), "mkdocs-jupyter left a cache in docs/"
