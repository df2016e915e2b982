"""User-facing error types.

Anything a user can cause (config, data, CLI arguments, credentials, files) raises a
:class:`QtrainError`; the CLI prints its message as one line and exits non-zero.
Any other exception is a bug and keeps its traceback. :func:`one_line` is the one way to
turn an exception (or an SDK's message) into such a line.
"""

from __future__ import annotations

from collections.abc import Iterable

from qtrain.redaction import scrub_secrets


class QtrainError(Exception):
    """An error the user can fix; its message is one line naming the field or file."""

    exit_code: int = 2


class ConfigError(QtrainError):
    """Invalid configuration: unknown key, bad value, unreadable YAML."""


class DataError(QtrainError):
    """Invalid or unreadable training data."""


class ModelLoadError(QtrainError):
    """A model or tokenizer could not be loaded, or the requested mode needs other hardware."""


class CheckpointError(QtrainError):
    """A checkpoint is missing, incomplete or fails its integrity check."""


class MissingExtraError(QtrainError):
    """An optional backend was requested but its extra is not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: install it with "
            f"`pip install 'qtrain[{extra}]'`"
        )


def one_line(
    error: BaseException | str,
    limit: int | None = 500,
    *,
    with_type: bool = True,
    collapse: bool = False,
    ellipsis: bool = False,
    scrub: bool = False,
    secrets: Iterable[str | None] = (),
) -> str:
    """``error`` as one line for an error message, a record or a report.

    By default an exception reads ``Type: first line of its message`` (just ``Type`` when
    the message is empty), at most ``limit`` characters. The options:

    - ``with_type=False``: no ``Type: `` prefix; an exception with an empty message then
      reads as its type name. A ``str`` never has a prefix and may come out empty.
    - ``collapse=True``: the whole message with each run of whitespace (newlines included)
      as one space, rather than its first non-blank line (stripped).
    - ``limit``: the most characters returned (``None``: no limit). The text is cut there,
      or with ``ellipsis=True`` cut shorter to end in ``...`` within ``limit``.
    - ``scrub=True``: credentials removed (:func:`qtrain.redaction.scrub_secrets`) before
      the line is chosen and cut; ``secrets`` are replaced as well, and imply ``scrub``.
    """
    text = str(error)
    secrets = tuple(secrets)
    if scrub or secrets:
        text = scrub_secrets(text, *secrets)
    if collapse:
        line = " ".join(text.split())
    else:
        line = next((stripped for raw in text.splitlines() if (stripped := raw.strip())), "")
    if isinstance(error, BaseException):
        name = type(error).__name__
        line = (f"{name}: {line}" if line else name) if with_type else (line or name)
    if limit is None or len(line) <= limit:
        return line
    return line[: limit - 3] + "..." if ellipsis and limit > 3 else line[:limit]


class AllTrialsFailedError(QtrainError):
    """Every trial of a cycle failed: the run ends ``failed`` (exit code 1), with its report."""

    exit_code = 1


class InfrastructureError(QtrainError):
    """The machine failed, not the trial: a full disk, an I/O error, lost storage. Never
    recorded as a failed trial: the run stops cleanly, says why, and resumes once the cause
    is fixed. Exit code 75 (EX_TEMPFAIL: try again later)."""

    exit_code = 75
