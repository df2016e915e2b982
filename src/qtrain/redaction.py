"""Remove credentials from text before it reaches a log, an event, a report or an error.

One set of patterns for every Azure path (Quantum jobs, Blob storage): account keys and
connection-string secrets, SAS signatures and whole URL query strings (where a SAS lives),
bearer/shared-key tokens and the Quantum API-key header.
"""

from __future__ import annotations

import re

_SECRET_PATTERNS = (
    # connection-string and SAS fields: AccountKey=..., sig=..., se=..., skoid=...
    (
        re.compile(
            r"(?i)\b(AccountKey|SharedAccessSignature|SharedAccessKey|sig|se|sv|sp|sr|st|skoid"
            r"|sktid|skt|ske|sks|skv)=[^;&\s'\"]+"
        ),
        r"\1=***",
    ),
    # a URL's query string (a SAS token) — the path stays readable
    (re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]*"), r"\1?***"),
    # Authorization header values and the Quantum API-key header
    (re.compile(r"(?i)\b(Bearer|SharedKey)\s+[^\s'\",]+"), r"\1 ***"),
    (re.compile(r"(?i)(x-ms-quantum-api-key['\"]?\s*[:=]\s*)['\"]?[^\s'\",}]+"), r"\1***"),
)


def scrub_secrets(text: str, *secrets: str | None) -> str:
    """``text`` with the given ``secrets`` and anything shaped like a credential as ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
