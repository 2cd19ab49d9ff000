"""The documentation site's build-time code: docs/hooks.py and docs/griffe_extensions.py.

The pages themselves run in tests/test_readme.py (their python blocks, their command
lines, and the strict build); here, the generated references cover what they must.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
griffe = pytest.importorskip("griffe")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"needsid_docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hooks():
    return _load("hooks")


def test_cli_reference_has_every_command_and_option(hooks):
    import typer
    import typer.main

    from needsid.cli import app

    text = hooks.cli_reference()
    group = typer.main.get_command(app)
    root = typer.Context(group, info_name="needsid")
    names = group.list_commands(root)
    assert {"simulate", "validate", "train", "flag", "serve"} <= set(names)
    for name in names:
        assert f"## `needsid {name}`" in text
        command = group.get_command(root, name)
        ctx = typer.Context(command, info_name=name, parent=root)
        for param in command.get_params(ctx):
            for opt in param.opts:
                label = f"`{param.name.upper()}` (argument)" if not opt.startswith("-") else opt
                assert label in text, f"needsid {name}: {label}"
    assert "| `--out` | path | required |" in text  # types, defaults and required show


def test_experiments_reference_has_every_script(hooks):
    text = hooks.experiments_reference()
    scripts = sorted(p.name for p in (ROOT / "experiments").glob("[!_]*.py"))
    assert scripts
    for name in scripts:
        assert f"## {name}\n" in text
        assert f".venv/bin/python experiments/{name}" in text
    assert "`configs/experiments/model_comparison.yaml`" in text
    assert "`experiments/results/model_comparison.csv`" in text


def test_readme_links_point_into_the_site_or_become_text(hooks):
    import re

    class Files:
        def get_file_from_path(self, path):
            return object() if path == "contract.md" else None

    def fix(markdown):
        return hooks.LINK.sub(lambda m: hooks._readme_link(m, Files()), markdown)

    assert fix("[the contract](docs/contract.md#types)") == "[the contract](contract.md#types)"
    assert fix("[a script](experiments/x.py)") == "a script"
    kept = "[web](https://example.org/a) and [here](#known-limitations)"
    assert fix(kept) == kept
    assert re.search(r"\]\(docs/contract\.md\)", (ROOT / "README.md").read_text("utf-8"))


@pytest.fixture(scope="module")
def package():
    ext = _load("griffe_extensions")
    extensions = griffe.load_extensions(ext.PydanticInit(), ext.SphinxRoles())
    return griffe.load(
        "needsid", search_paths=[str(ROOT / "src")], extensions=extensions,
        docstring_parser="numpy",
    )  # fmt: skip


def test_pydantic_models_get_their_fields_as_init_parameters(package):
    from needsid.features import FeatureSpec
    from needsid.simulation import SimulationConfig

    for cls, path in (
        (FeatureSpec, "features._spec.FeatureSpec"),
        (SimulationConfig, "simulation._config.SimulationConfig"),
    ):
        params = [p for p in package[path].parameters if p.name != "self"]
        assert [p.name for p in params] == list(cls.model_fields), path
        assert all(p.kind.value == "keyword-only" for p in params)
    # a field with a default keeps it; a constrained field without one is required
    spec = package["features._spec.FeatureSpec"].parameters
    assert spec["trend_window"].default is None


def test_sphinx_roles_become_optional_cross_references(package):
    build = package["features._build.build"].docstring.value
    load_spec = package["features._spec.load_spec"].docstring.value
    assert ":func:" not in build and ":class:" not in load_spec
    assert '<autoref identifier="needsid.features._describe.describe" optional>' in build
    assert "<code>FeatureSpec</code></autoref>" in load_spec
