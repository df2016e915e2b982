"""Why an Azure Quantum solve failed, each a one-line ``SolverError`` with secrets removed."""

from __future__ import annotations

import re

from qtrain.solvers.errors import SolverError

# Query-string signatures, account keys, bearer tokens, connection-string secrets.
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(sig|se|sv|sp|sr|st|skoid|sktid|skt|ske|sks|skv)=[^&\s'\"]+"),
    re.compile(r"(?i)(AccountKey|SharedAccessSignature|SharedAccessKey)=[^;\s'\"]+"),
    re.compile(r"(?i)(bearer|x-ms-quantum-api-key['\"]?\s*[:=])\s*['\"]?[^\s'\",}]+"),
)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` on one line, without SAS signatures, account keys, tokens or ``secrets``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}=***", text)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:400] if lines else ""


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
