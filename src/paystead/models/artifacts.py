"""Versioned model artifacts: a LightGBM text model beside a ``metadata.json``.

``{models_dir}/{kind}/{version}/model.txt`` is LightGBM's own text format (no pickle:
loading it runs no code) and ``metadata.json`` says what it is: the feature names in
order, the training window, row counts, the holdout metrics, library versions and the
model file's sha256. Loading checks the hash and that the feature list is exactly the
one the running code computes, so a model trained on other features is refused rather
than fed the wrong columns (no training/serving skew).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # lightgbm is imported only where a model is trained or loaded
    import lightgbm

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
_VERSION = re.compile(r"^\d{8}T\d{6}Z$")


class ArtifactError(ValueError):
    """A model artifact is missing, altered or does not fit the running code."""


@dataclass(frozen=True, slots=True)
class Artifact:
    kind: str
    version: str
    path: Path
    metadata: dict[str, Any]
    booster: lightgbm.Booster


def new_version(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(
    models_dir: Path,
    kind: str,
    version: str,
    booster: lightgbm.Booster,
    metadata: dict[str, Any],
) -> Path:
    """Write ``model.txt`` and ``metadata.json`` under a new version directory."""
    import lightgbm
    import sklearn

    target = models_dir / kind / version
    target.mkdir(parents=True, exist_ok=False)
    model = booster.model_to_string().encode()
    (target / MODEL_FILE).write_bytes(model)
    full = {
        **metadata,
        "kind": kind,
        "version": version,
        "model_file": MODEL_FILE,
        "model_sha256": _sha256(model),
        "libraries": {"lightgbm": lightgbm.__version__, "scikit-learn": sklearn.__version__},
    }
    (target / METADATA_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return target


def versions(models_dir: Path, kind: str) -> list[str]:
    """The versions on disk, oldest first (versions are UTC timestamps)."""
    root = models_dir / kind
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name))


def load(
    models_dir: Path, kind: str, features: tuple[str, ...], version: str | None = None
) -> Artifact:
    """The given (else the latest) version of ``kind``, checked: ``ArtifactError`` when
    there is none, its hash does not match, or its features are not ``features``."""
    import lightgbm

    if version is None:
        found = versions(models_dir, kind)
        if not found:
            raise ArtifactError(f"no {kind} model in {models_dir / kind}")
        version = found[-1]
    elif not _VERSION.match(version):
        raise ArtifactError(f"{version!r} is not a model version")
    path = models_dir / kind / version
    try:
        metadata = json.loads((path / METADATA_FILE).read_text())
        model = (path / MODEL_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: {exc}") from exc
    if not isinstance(metadata, dict) or metadata.get("kind") != kind:
        raise ArtifactError(f"{path}: metadata is not a {kind} model's")
    if metadata.get("model_sha256") != _sha256(model):
        raise ArtifactError(f"{path}: {MODEL_FILE} does not match its recorded sha256")
    if tuple(metadata.get("features", ())) != features:
        raise ArtifactError(
            f"{path}: trained on features {metadata.get('features')}, "
            f"the running code computes {list(features)}"
        )
    booster = lightgbm.Booster(model_str=model.decode())
    return Artifact(kind, version, path, metadata, booster)
