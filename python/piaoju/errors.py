"""The exception tree of piaoju.

Every error is a :class:`PiaojuError` carrying the core's stable ``code`` (the same number as
the C ABI's ``pj_status``), ``name``, ``provider``, ``provider_code``, ``provider_message``,
``http_status`` and ``retryable``. There is one subclass per band of the catalogue; where a
built-in exception fits, the subclass derives from it too, so that ``except TimeoutError`` or
``except ValueError`` work as expected.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

__all__ = [
    "PiaojuError",
    "UsageError",
    "ConfigError",
    "ImageError",
    "NetworkError",
    "Timeout",
    "AuthError",
    "QuotaError",
    "ServiceError",
    "RecognitionError",
    "ResponseError",
    "InternalError",
]


#: The keys of the core's error JSON, in its order: each is an attribute of every exception.
_FIELDS = (
    "code",
    "name",
    "band",
    "message",
    "hint",
    "provider",
    "provider_code",
    "provider_message",
    "http_status",
    "retryable",
    "attempts",
    "possibly_billed",
    "cached",
    "os_error",
)


class PiaojuError(Exception):
    """Base class of every piaoju error: the core's error payload as attributes."""

    code: int
    name: str
    band: str
    message: str
    #: What to do next (which setting to check, how to make the image acceptable), if known.
    hint: Optional[str]
    provider: Optional[str]
    provider_code: Optional[str]
    provider_message: Optional[str]
    http_status: Optional[int]
    retryable: bool
    attempts: int
    possibly_billed: bool
    cached: bool
    os_error: Optional[int]

    def __init__(
        self,
        message: str,
        *,
        code: int,
        name: str,
        band: str,
        hint: Optional[str] = None,
        provider: Optional[str] = None,
        provider_code: Optional[str] = None,
        provider_message: Optional[str] = None,
        http_status: Optional[int] = None,
        retryable: bool = False,
        attempts: int = 0,
        possibly_billed: bool = False,
        cached: bool = False,
        os_error: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name
        self.band = band
        self.hint = hint
        self.provider = provider
        self.provider_code = provider_code
        self.provider_message = provider_message
        self.http_status = http_status
        self.retryable = retryable
        self.attempts = attempts
        self.possibly_billed = possibly_billed
        self.cached = cached
        self.os_error = os_error

    def to_dict(self) -> Dict[str, Any]:
        """The error as the JSON object the C ABI hands out (the core's error payload)."""
        return {key: getattr(self, key) for key in _FIELDS}

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_from_dict, (self.to_dict(),))

    def __str__(self) -> str:
        # The message already says the provider's code and text; the hint says what to do.
        text = f"[{self.code} {self.name}] {self.message}"
        if self.hint is not None:
            text += f" (hint: {self.hint})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, name={self.name!r}, message={self.message!r})"


class UsageError(PiaojuError, ValueError):
    """1xx: a bad argument or configuration; nothing was sent."""


class ConfigError(UsageError):
    """101/102: the configuration is invalid or lacks the credentials for this call."""


class ImageError(PiaojuError, ValueError):
    """2xx: the image was refused before any request (format, size, dimensions, unreadable)."""


class NetworkError(PiaojuError, ConnectionError):
    """3xx: the request did not complete (connection, TLS, broken connection)."""


class Timeout(NetworkError, TimeoutError):
    """301: the call did not complete before its deadline."""


class AuthError(PiaojuError):
    """4xx: the provider refused the credentials."""


class QuotaError(PiaojuError):
    """5xx: quota used up or rate limited."""


class ServiceError(PiaojuError):
    """6xx: the provider failed, is in maintenance, or answered an unknown error code."""


class RecognitionError(PiaojuError):
    """7xx: the provider could not recognize the document."""


class ResponseError(PiaojuError):
    """8xx: the answer could not be understood."""


class InternalError(PiaojuError):
    """9xx: a bug in piaoju."""


_BY_BAND: Dict[str, Type[PiaojuError]] = {
    "usage": UsageError,
    "image": ImageError,
    "transport": NetworkError,
    "auth": AuthError,
    "quota": QuotaError,
    "service": ServiceError,
    "recognition": RecognitionError,
    "response": ResponseError,
    "internal": InternalError,
}

# Codes with a more specific class than their band's.
_BY_NAME: Dict[str, Type[PiaojuError]] = {
    "timeout": Timeout,
    "invalid_config": ConfigError,
    "missing_credentials": ConfigError,
}


def error_class(name: str, band: str) -> Type[PiaojuError]:
    """The exception class for an error of the catalogue (by its name and band)."""
    return _BY_NAME.get(name) or _BY_BAND.get(band, PiaojuError)


def _from_dict(payload: Dict[str, Any]) -> PiaojuError:
    """The exception for the core's error payload (its JSON, as a dict): the one constructor
    every error of piaoju goes through."""
    fields = {key: payload[key] for key in _FIELDS if key in payload and key != "message"}
    cls = error_class(payload["name"], payload["band"])
    return cls(payload["message"], **fields)


def _from_json(text: str) -> PiaojuError:
    """The exception for the core's error JSON text."""
    import json

    return _from_dict(json.loads(text))
