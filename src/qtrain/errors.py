"""User-facing error types.

Anything a user can cause (config, data, CLI arguments, credentials, files) raises a
:class:`QtrainError`; the CLI prints its message as one line and exits non-zero.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


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


def one_line(exc: BaseException, limit: int = 500) -> str:
    """``Type: message``, first line only, at most ``limit`` characters (for records/reports)."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:limit]
