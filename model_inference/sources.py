"""Where the model comes from, and how a new one is noticed (hot swap).

* :class:`DirectorySource` (standalone): ``--artifact-dir`` is an artifact directory (it may be
  a symlink), or a directory holding a ``current`` file that names the version sub-directory
  to serve. Re-pointing the symlink or rewriting ``current`` swaps the model.
* :class:`BackendSource` (``--inference-id``): the inference's ``result_id`` / ``model_version``
  from the backend; the artifact tar.gz is downloaded and unpacked into a cache directory.
  Pointing the inference at another result (or back: rollback) swaps the model.

A source answers ``target()`` (a hashable description of what should be served, cheap enough
to poll every second) and ``materialize(target) -> (artifact_dir, version, extra)`` where
``extra`` holds fields added to every output record besides ``model_version``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CURRENT_FILE = "current"


class SourceError(RuntimeError):
    pass


class DirectorySource:
    def __init__(self, path: str | Path, version: Any = None) -> None:
        self.path = Path(path)
        self.version_override = version

    def target(self) -> str:
        path = self.path
        pointer = path / CURRENT_FILE
        if not (path / "metadata.json").exists() and pointer.exists():
            name = pointer.read_text().strip()
            if not name:
                raise SourceError(f"{pointer} is empty")
            path = path / name
        if not (path / "metadata.json").exists():
            raise SourceError(f"{path} holds no metadata.json (nor a '{CURRENT_FILE}' file)")
        return os.path.realpath(path)

    def materialize(self, target: str) -> tuple[str, Any, dict]:
        return target, self.version_override, {}

    def close(self) -> None:
        pass


class BackendSource:
    """Model (and deployment settings) of an inference, from the backend."""

    def __init__(self, client, inference_id: int, cache_dir: str | None = None) -> None:
        self.client = client
        self.inference_id = inference_id
        self.cache = Path(
            cache_dir or tempfile.mkdtemp(prefix=f"kafkaml-inference-{inference_id}-")
        )
        self._own_cache = cache_dir is None
        self.config: dict = {}

    def fetch_config(self) -> dict:
        self.config = self.client.inference(self.inference_id)
        return self.config

    def target(self) -> tuple[int, Any]:
        config = self.fetch_config()
        return int(config["result_id"]), config.get("model_version")

    def materialize(self, target: tuple[int, Any]) -> tuple[str, Any, dict]:
        result_id, version = target
        dest = self.cache / f"result-{result_id}-v{version if version is not None else 'latest'}"
        if not (dest / "metadata.json").exists():
            archive = self.cache / f"{dest.name}.tar.gz"
            self.client.download_artifacts(result_id, str(archive), version=version)
            tmp = Path(tempfile.mkdtemp(dir=self.cache))
            try:
                extract_archive(archive, tmp)
                root = find_artifact_root(tmp)
                if dest.exists():
                    shutil.rmtree(dest)
                os.replace(root, dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                archive.unlink(missing_ok=True)
        # versions count per result: the result id tells two results' version 1 apart
        return str(dest), version, {"result_id": result_id}

    def close(self) -> None:
        if self._own_cache:
            shutil.rmtree(self.cache, ignore_errors=True)


def extract_archive(archive: str | Path, dest: str | Path) -> None:
    """Unpack a tar(.gz) safely: no absolute paths, no escaping links."""
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


def find_artifact_root(path: Path) -> Path:
    """The directory holding ``metadata.json`` (the archive may wrap it in one folder)."""
    if (path / "metadata.json").exists():
        return path
    found = sorted(path.rglob("metadata.json"), key=lambda p: len(p.parts))
    if not found:
        raise SourceError("the artifact archive holds no metadata.json")
    return found[0].parent
