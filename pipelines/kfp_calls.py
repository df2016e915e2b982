"""Calls to a Kubeflow Pipelines API: their failures as one-line errors, filters and links.

``kfp`` reports a failed call as an ``ApiException`` carrying the whole HTTP body, or as a
urllib3 error several causes deep; :func:`calling` turns each into one
:class:`~qtrain_kfp.pipelines.errors.KfpApiError` line that says what to check.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import ssl
import warnings
from collections.abc import Iterator
from typing import Any

import kfp_server_api
import urllib3

from qtrain.errors import one_line
from qtrain_kfp.pipelines.errors import (
    KfpApiError,
    KfpAuthError,
    KfpRequestError,
    KfpUnreachableError,
)

REQUEST_TIMEOUT_S = 30
SA_TOKEN_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
UI_ENV = "KF_PIPELINES_UI_ENDPOINT"


class NotKfpError(Exception):
    """The health check answered 2xx with something that is not KFP's JSON."""


@contextlib.contextmanager
def calling(url: str, action: str) -> Iterator[None]:
    """Silence kfp's stdout links and FutureWarning; turn its failures into one-line errors."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            yield
    except kfp_server_api.ApiException as exc:
        raise _status_error(url, action, exc) from None
    except NotKfpError as exc:
        raise KfpRequestError(
            f"{url}/apis/v2beta1/healthz answered {exc} rather than KFP's JSON (a login "
            "page?): check --host, and --token for an authenticated install"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KfpUnreachableError(
            f"cannot reach the KFP API at {url}: {network_reason(exc)}; check --host"
        ) from None


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (``connection refused``, TLS, DNS, timeout)."""
    cause = getattr(exc, "reason", None)
    cause = cause if isinstance(cause, BaseException) else exc  # MaxRetryError wraps the cause
    text = str(cause)
    errno = re.search(r"\[Errno -?\d+\] ([^()\]]+)", text)
    if isinstance(cause, urllib3.exceptions.SSLError | ssl.SSLError):
        short = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
        return f"TLS handshake failed ({_brief(short, 120)}), maybe http:// not https://"
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return f"cannot resolve the host name ({errno.group(1).strip() if errno else text})"
    if errno:
        return errno.group(1).strip().lower()
    if isinstance(cause, TimeoutError | urllib3.exceptions.TimeoutError):
        return f"no answer within {REQUEST_TIMEOUT_S} s"
    return _brief(text.split("): ", 1)[-1] or type(cause).__name__)


def name_filter(name: str) -> str:
    """A KFP list filter for objects whose ``display_name`` is ``name``."""
    return json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": name}]}
    )


def ui_url(api_url: str) -> str:
    """The KFP UI's base URL: ``$KF_PIPELINES_UI_ENDPOINT``, else the API's."""
    return os.environ.get(UI_ENV, "").rstrip("/") or api_url


def _status_error(url: str, action: str, exc: kfp_server_api.ApiException) -> KfpApiError:
    status = exc.status or 0
    if status == 0:  # kfp_server_api reports TLS failures as status 0
        reason = _brief(str(exc.reason))
        return KfpUnreachableError(
            f"cannot reach the KFP API at {url}: {reason}; check --host (http or https?)"
        )
    if status in (401, 403):
        return KfpAuthError(
            f"KFP API at {url} refused the credentials (HTTP {status}): "
            f"set {SA_TOKEN_ENV} or --token"
        )
    detail = _server_message(exc.body) or _brief(str(exc.reason or ""))
    label = f"HTTP {status} {exc.reason or ''}".strip()
    if status == 404:
        return KfpRequestError(
            f"KFP API at {url} answered {label} while {action}: {detail}; does --host point "
            "at the KFP API (it serves /apis/v2beta1)?"
        )
    verb = "failed" if status >= 500 else "rejected the request"
    return KfpRequestError(f"KFP API at {url} {verb} while {action} ({label}): {detail}")


def _server_message(body: Any) -> str:
    """The ``message`` of a google.rpc.Status body; HTML error pages say nothing useful."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip() or body.lstrip().startswith("<"):
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return _brief(body)
    if isinstance(data, dict):
        return _brief(str(data.get("message") or data.get("error") or body))
    return _brief(body)


def _brief(text: str, limit: int = 300) -> str:
    return one_line(text, limit, collapse=True, ellipsis=True)
