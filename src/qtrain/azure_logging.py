"""Keep the Azure SDK's credential chatter off the terminal."""

from __future__ import annotations

import logging


def quiet_azure_credentials() -> None:
    """``DefaultAzureCredential`` logs every credential it tried, a dozen lines at WARNING,
    before it raises; qtrain reports that failure itself, in one line naming what to set."""
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)
