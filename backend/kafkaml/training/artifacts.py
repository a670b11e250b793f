"""Reading single files out of a stored artifact archive."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from kafkaml.errors import ApplicationError

from .models import ModelArtifact


def read_member(tar: tarfile.TarFile, filename: str) -> bytes | None:
    """The bytes of the regular file called ``filename`` anywhere in the archive, or None."""
    for member in tar.getmembers():
        if member.isfile() and Path(member.name).name == filename:
            return tar.extractfile(member).read()
    return None


#: single files a download may ask for (``metadata.json``'s ``files``), besides ``archive``
FILE_KINDS = ("native", "onnx", "h5", "state_dict", "tflite", "tflite_int8")


def artifact_file(artifact: ModelArtifact, kind: str):
    """(file object, filename) for ``archive`` or one of ``FILE_KINDS``."""
    if kind == "archive":
        return artifact.archive.open("rb"), f"v{artifact.version}.tar.gz"
    files = artifact.metadata.get("files") or {}
    if kind not in FILE_KINDS or kind not in files:
        raise ApplicationError(
            f"No {kind!r} file in this artifact.",
            errors={"kind": [f"Have: {sorted(files)}"]},
            status_code=404,
        )
    wanted = files[kind]
    with artifact.archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
        data = read_member(tar, wanted)
    if data is not None:
        return io.BytesIO(data), wanted
    raise ApplicationError(f"{wanted} is missing from the archive.", status_code=404)
