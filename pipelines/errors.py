"""The one-line errors of the KFP client (all ``QtrainError``: the CLI prints them, exit 2)."""

from qtrain.errors import QtrainError


class KfpApiError(QtrainError):
    """A KFP API call failed for a reason the user can fix; the message is one line."""


class KfpUnreachableError(KfpApiError):
    """Nothing answered at ``--host``: connection refused, unknown host name, TLS mismatch."""


class KfpAuthError(KfpApiError):
    """The API refused the credentials (HTTP 401/403) or a token file cannot be read."""


class KfpArgumentError(KfpApiError):
    """An option is invalid before anything is sent: host URL, cron, experiment, timeout."""


class KfpServerTooOldError(KfpApiError):
    """The KFP backend's release is older than the one the pipeline needs."""


class KfpRequestError(KfpApiError):
    """The API answered a request with an error status (4xx other than auth, or 5xx)."""


class RunNotSucceededError(KfpApiError):
    """A waited-for run ended in another state than SUCCEEDED, or the wait timed out."""

    exit_code = 1
