"""Only needsid's own flagging models load, and only as they were registered.

A registry holds whatever someone logged: a pickled pyfunc promoted to ``champion`` would
run its code on ``mlflow.pyfunc.load_model``. Before loading, the model's files are
copied locally and checked: the MLmodel must name MLflow's models-from-code loader and
needsid's flagging code file, and every file must have the SHA-256 recorded as a version
tag when ``needsid train`` registered it. The checked local copy is what gets loaded.
One file is MLflow's, not the model's: ``registered_model_meta``, which MLflow writes into
a version's folder whenever it loads ``models:/NAME/VERSION``; it is checked by content
(it must name this very version) instead of by digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .._yaml import safe_load

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["CODE_FILE", "LOADER", "ModelIntegrityError", "digests", "verified_copy"]

#: The flagging model's code file (models-from-code) and the loader that runs it.
CODE_FILE = "_flagging_model_code.py"
#: The need-profile model's code file (``needsid train-needs``), loaded by ``allocate`` only.
NEEDS_CODE_FILE = "_need_profile_model_code.py"
_KINDS = {CODE_FILE: "flagging model", NEEDS_CODE_FILE: "need-profile model"}
LOADER = "mlflow.pyfunc.loaders.code_model"
#: Version tags ``sha256.<file>`` hold each file's digest at registration.
TAG_PREFIX = "sha256."
#: Written by MLflow (name and version) into a version's folder when it loads it by URI.
MLFLOW_META = "registered_model_meta"


class ModelIntegrityError(ValueError):
    """A registered model is not needsid's flagging model, or was changed after registration."""


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by its POSIX path relative to it."""
    folder = Path(folder)
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _download(client: MlflowClient, uri: str, name: str, version: str, workdir: Path) -> Path:
    """Copy a registered version's files from the store at ``uri``, quietly.

    The files' location comes from ``client``: MLflow resolves a ``models:/`` URI with a
    client on its global URIs, whatever ``registry_uri`` it is given. The location is
    a storage URI, so only the tracking URI (for ``mlflow-artifacts:``) is passed.
    """
    import mlflow.artifacts

    from ._store import _quiet_mlflow

    with _quiet_mlflow():
        location = client.get_model_version_download_uri(name, version)
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=str(workdir), tracking_uri=uri
            )
        )


def _model_files(folder: Path) -> dict[str, str]:
    """Return the digests of the model's own files (all but MLflow's ``MLFLOW_META``)."""
    return {rel: d for rel, d in digests(folder).items() if rel != MLFLOW_META}


def _meta_problem(folder: Path, name: str, version: str) -> str | None:
    """MLflow's meta file, if there, must name this version and hold nothing else."""
    import yaml

    path = folder / MLFLOW_META
    if not path.exists():
        return None
    try:
        meta = safe_load(path.read_text("utf-8"), MLFLOW_META)
    except (OSError, ValueError, yaml.YAMLError):  # UnicodeDecodeError is a ValueError
        meta = None
    want = {"model_name": name, "model_version": str(version)}
    if not isinstance(meta, dict) or {k: str(v) for k, v in meta.items()} != want:
        return f"file {MLFLOW_META!r} does not hold MLflow's {want!r}"
    return None


def record(
    client: MlflowClient, uri: str, name: str, version: str, workdir: Path
) -> dict[str, str]:
    """Tag a just-registered version with the SHA-256 of each of its files."""
    found = _model_files(_download(client, uri, name, version, workdir))
    for rel, digest in found.items():
        client.set_model_version_tag(name, version, TAG_PREFIX + rel, digest)
    return found


def verified_copy(
    model_uri: str,
    name: str | None,
    version: str,
    workdir: Path,
    *,
    tracking_uri: str | None = None,
    code_file: str = CODE_FILE,
) -> Path:
    """Download a registered version, check it, and return the checked local folder.

    Parameters
    ----------
    model_uri : str
        The version's URI, ``models:/NAME/VERSION``.
    name : str or None
        Registered model name; None (a URI that is not a registered version) is refused.
    version : str
        The version, whose ``sha256.*`` tags hold the digests to check against.
    workdir : Path
        Folder to copy the files into.
    tracking_uri : str, optional
        The store (tracking and registry). Default: ``MLFLOW_TRACKING_URI``, else
        ``sqlite:///mlflow.db``. MLflow's global URIs are neither read nor set.
    code_file : str, default=CODE_FILE
        The code file the model must run: the flagging model's, or ``NEEDS_CODE_FILE``
        for a need-profile model. A model of the other kind is refused.

    Returns
    -------
    Path
        The checked local copy, to load with ``mlflow.pyfunc.load_model``.

    Raises
    ------
    ModelIntegrityError
        Naming every problem: a loader other than needsid's models-from-code, a missing
        code file, no recorded digests, or a file missing, added or changed since
        registration.
    """
    from ._store import _client, _quiet_mlflow

    if name is None:
        raise ModelIntegrityError(
            f"Got model {model_uri!r}; needsid loads registered versions only "
            "(models:/NAME/VERSION or models:/NAME@ALIAS), whose files it can check against "
            "the digests recorded at registration."
        )
    kind = _KINDS.get(code_file, "model")
    client, uri = _client(tracking_uri)
    local = _download(client, uri, name, version, workdir)
    problems = []
    mlmodel = local / "MLmodel"
    meta = safe_load(mlmodel.read_text("utf-8"), "MLmodel") if mlmodel.is_file() else None
    flavors = (meta or {}).get("flavors") or {}
    pyfunc = flavors.get("python_function") or {}
    if set(flavors) != {"python_function"} or pyfunc.get("loader_module") != LOADER:
        problems.append(
            f"its MLmodel names flavors {sorted(flavors)!r} and loader "
            f"{pyfunc.get('loader_module')!r}; needsid's {kind} is python_function "
            f"with {LOADER!r} only"
        )
    code = Path(str(pyfunc.get("model_code_path") or "")).name
    if code != code_file or not (local / code_file).is_file():
        problems.append(
            f"its code file is {code or None!r}, not needsid's {kind}'s {code_file!r}"
            + (f" (it is a {_KINDS[code]})" if code in _KINDS else "")
        )
    with _quiet_mlflow():
        tags = client.get_model_version(name, version).tags
    # versions registered by an earlier needsid, which downloaded by models:/ URI, carry
    # MLFLOW_META's digest too
    expected = {
        k[len(TAG_PREFIX) :]: v
        for k, v in tags.items()
        if k.startswith(TAG_PREFIX) and k != TAG_PREFIX + MLFLOW_META
    }
    if (meta_problem := _meta_problem(local, name, version)) is not None:
        problems.append(meta_problem)
    if not expected:
        problems.append(
            "it has no sha256.* version tags: it was not registered by `needsid train`"
        )
    else:
        found = _model_files(local)
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
            + ". Register the model with "
            + ("`needsid train-needs`" if code_file == NEEDS_CODE_FILE else "`needsid train`")
            + ", and promote that version."
        )
    return local
