"""Only needsid's own flagging models load, and only as they were registered.

A registry holds whatever someone logged: a pickled pyfunc promoted to ``champion`` would
run its code on ``mlflow.pyfunc.load_model``. Before loading, the model's files are
copied locally and checked: the MLmodel must name MLflow's models-from-code loader and
needsid's flagging code file, and every file must have the SHA-256 recorded as a version
tag when ``needsid train`` registered it. The checked local copy is what gets loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .._yaml import safe_load

__all__ = ["CODE_FILE", "LOADER", "ModelIntegrityError", "digests", "verified_copy"]

#: The flagging model's code file (models-from-code) and the loader that runs it.
CODE_FILE = "_flagging_model_code.py"
LOADER = "mlflow.pyfunc.loaders.code_model"
#: Version tags ``sha256.<file>`` hold each file's digest at registration.
TAG_PREFIX = "sha256."


class ModelIntegrityError(ValueError):
    """A registered model is not needsid's flagging model, or was changed after registration."""


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by its POSIX path relative to it."""
    folder = Path(folder)
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def record(client, name: str, version: str, model_uri: str, workdir: Path) -> dict[str, str]:
    """Tag a just-registered version with the SHA-256 of each of its files."""
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=workdir))
    found = digests(local)
    for rel, digest in found.items():
        client.set_model_version_tag(name, version, TAG_PREFIX + rel, digest)
    return found


def verified_copy(model_uri: str, name: str | None, version: str, workdir: Path) -> Path:
    """Download a registered version, check it, and return the checked local folder.

    Raises
    ------
    ModelIntegrityError
        Naming every problem: a loader other than needsid's models-from-code, a missing
        code file, no recorded digests, or a file missing, added or changed since
        registration.
    """
    import mlflow
    from mlflow import MlflowClient

    if name is None:
        raise ModelIntegrityError(
            f"Got model {model_uri!r}; needsid loads registered versions only "
            "(models:/NAME/VERSION or models:/NAME@ALIAS), whose files it can check against "
            "the digests recorded at registration."
        )
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=workdir))
    problems = []
    mlmodel = local / "MLmodel"
    meta = safe_load(mlmodel.read_text("utf-8"), "MLmodel") if mlmodel.is_file() else None
    flavors = (meta or {}).get("flavors") or {}
    pyfunc = flavors.get("python_function") or {}
    if set(flavors) != {"python_function"} or pyfunc.get("loader_module") != LOADER:
        problems.append(
            f"its MLmodel names flavors {sorted(flavors)!r} and loader "
            f"{pyfunc.get('loader_module')!r}; needsid's flagging model is python_function "
            f"with {LOADER!r} only"
        )
    code = Path(str(pyfunc.get("model_code_path") or "")).name
    if code != CODE_FILE or not (local / CODE_FILE).is_file():
        problems.append(f"its code file is {code or None!r}, not needsid's {CODE_FILE!r}")
    tags = MlflowClient().get_model_version(name, version).tags
    expected = {k[len(TAG_PREFIX) :]: v for k, v in tags.items() if k.startswith(TAG_PREFIX)}
    if not expected:
        problems.append(
            "it has no sha256.* version tags: it was not registered by `needsid train`"
        )
    else:
        found = digests(local)
        for rel in sorted(set(expected) | set(found)):
            if rel not in found:
                problems.append(f"file {rel!r} is missing")
            elif rel not in expected:
                problems.append(f"file {rel!r} was added after registration")
            elif found[rel] != expected[rel]:
                problems.append(
                    f"file {rel!r} was changed after registration (sha256 {found[rel][:12]}..., "
                    f"registered {expected[rel][:12]}...)"
                )
    if problems:
        raise ModelIntegrityError(
            f"Refusing to load {model_uri!r} (version {version} of {name!r}): "
            + "; ".join(problems)
            + ". Register the model with `needsid train`, and promote that version."
        )
    return local
