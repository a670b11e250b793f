"""Errors the worker turns into a result status."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Anything that makes the result ``failed``; the message is shown to the user."""


class DataError(TrainingError):
    """The announced data could not be read or decoded; the message names the offset."""


class StopRequested(BaseException):  # noqa: N818 - raised from the SIGTERM handler, not an error
    """The workload was asked to stop (SIGTERM from the launcher): the result becomes ``stopped``.

    A ``BaseException`` so that user code or framework callbacks catching ``Exception`` do not
    swallow it.
    """
