"""Why an Azure Quantum solve failed, each a one-line ``SolverError`` with secrets removed."""

from __future__ import annotations

import logging

from qtrain.redaction import scrub_secrets
from qtrain.solvers.errors import SolverError


class SecretFilter(logging.Filter):
    """Scrubs log records of the Azure SDK (at DEBUG it logs SAS URLs and request details)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its scrubbed text; never drops a record."""
        message = record.getMessage()
        clean = scrub_secrets(message, *self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = SecretFilter()
_LOGGER_PREFIXES = ("azure", "urllib3")


def protect_logs(*secrets: str | None) -> None:
    """Scrub the Azure SDK's log records of ``secrets`` (and of keys/signatures generally).

    A logger's filters only see records logged on that very logger, not its children's, so
    the filter goes on every ``azure.*`` and ``urllib3.*`` logger that exists: call this
    after the SDK is imported (its modules create their loggers on import).
    """
    _FILTER.secrets.update(secret for secret in secrets if secret)
    for name in list(logging.Logger.manager.loggerDict):
        if name.split(".", 1)[0] in _LOGGER_PREFIXES:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)


class AzureQuantumError(SolverError):
    """Azure Quantum could not produce samples (auth, service, storage, bad answer, ...)."""


class TargetUnavailableError(AzureQuantumError):
    """The target is missing from the workspace, or not ``Available``."""


class QueueTooLongError(AzureQuantumError):
    """The target's average queue time exceeds ``max_queue_s``."""


class QuotaExceededError(AzureQuantumError):
    """A workspace quota for the target's provider is used up."""


class JobFailedError(AzureQuantumError):
    """The job ended ``Failed`` or ``Cancelled``."""
