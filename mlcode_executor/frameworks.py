"""The platform's one table of framework names: what users and callers may write, and the
canonical name everything else uses."""

from __future__ import annotations

FRAMEWORKS = ("tensorflow", "pytorch")
ALIASES = {
    "tensorflow": "tensorflow",
    "tf": "tensorflow",
    "keras": "tensorflow",
    "pytorch": "pytorch",
    "torch": "pytorch",
    "pth": "pytorch",
}


def normalize_framework(framework: str) -> str:
    """'tensorflow' | 'pytorch' (aliases: tf, keras, torch, pth); ValueError otherwise."""
    name = ALIASES.get(str(framework or "").strip().lower())
    if name is None:
        raise ValueError(f"unknown framework {framework!r}: use 'tensorflow' or 'pytorch'")
    return name
