"""What every backend's AWS-side checks share: reading boto3 answers and errors into probes.

AWS clients are untyped boto3 objects; backends name the calls they make in Protocols so a test fake
(or a botocore ``Stubber``-wrapped client) can stand in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from automation.verify.poll import Probe

ACTIVE = "ACTIVE"

# Error codes that mean "asking again will not help": credentials, permissions, malformed input.
_TERMINAL_ERROR_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ForbiddenException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "BadRequestException",
        "ValidationException",
        "InvalidInput",
    }
)
_NOT_IMPLEMENTED_CODES = frozenset({"NotImplemented", "NotImplementedException", "501"})
# botocore exceptions raised before any request is sent: configuration, not transient.
_TERMINAL_BOTOCORE_ERRORS = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "NoRegionError", "ParamValidationError"}
)


def describe_aws_error(exc: Exception) -> Probe:
    """Turn a boto3/botocore exception into a failed :class:`Probe`, deciding whether to retry.

    Not-found answers are retryable (the controller may not have created the object yet);
    credential, permission and validation errors are not; neither is an endpoint that does not
    implement the operation at all (moto answers App Mesh virtual-service calls with HTTP 404
    "Not yet implemented"), which is reported by name instead of being waited on.
    """
    if isinstance(exc, NotImplementedError):
        return Probe(False, f"operation not implemented by this endpoint: {exc}", terminal=True)
    response: object = getattr(exc, "response", None)
    if dig(response, "Error") is not None:
        code = str(dig(response, "Error", "Code") or "")
        message = str(dig(response, "Error", "Message") or "")
        status = dig(response, "ResponseMetadata", "HTTPStatusCode")
        operation = str(getattr(exc, "operation_name", "the operation"))
        if (
            code in _NOT_IMPLEMENTED_CODES
            or "not implemented" in message.lower()
            or ("not yet implemented" in message.lower())
        ):
            return Probe(
                False,
                f"{operation} is not implemented by this endpoint (HTTP {status}, {code}: {message})",
                terminal=True,
            )
        terminal = code in _TERMINAL_ERROR_CODES
        return Probe(False, f"{operation} failed: {code}: {message}", terminal=terminal)
    name = type(exc).__name__
    return Probe(False, f"{name}: {exc}", terminal=name in _TERMINAL_BOTOCORE_ERRORS)


def dig(obj: object, *keys: str) -> Any:
    """Walk nested response mappings; ``None`` as soon as a level is missing or not a mapping.

    AWS responses (and fakes) are untyped JSON, so this is the one place that tolerates any shape.
    """
    current: object = obj
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = cast("Mapping[str, object]", current).get(key)
    return current


def call(fn: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any] | Probe:
    try:
        return fn()
    except Exception as exc:  # boto3 raises ClientError/BotoCoreError; fakes may raise anything
        return describe_aws_error(exc)


def error_code_and_message(exc: Exception) -> tuple[str, str]:
    """The ``Error.Code`` and ``Error.Message`` of a botocore ``ClientError`` (empty when absent)."""
    response: object = getattr(exc, "response", None)
    return str(dig(response, "Error", "Code") or ""), str(dig(response, "Error", "Message") or "")
