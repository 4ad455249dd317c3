"""The client's keywords: each one is a key of core's configuration JSON (the dict that
``Client.from_config`` takes), named by its path with ``_`` (``juhe.key`` is ``juhe_key``),
in seconds where the JSON says milliseconds (``timeout_ms`` is ``timeout``), and ``cache`` for
``cache.path``. The keywords build that JSON; core checks it (one rule for every language)."""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Literal, NoReturn, Optional, Tuple, TypedDict, Union

from . import _native

__all__ = ["ClientOptions"]


class ClientOptions(TypedDict, total=False):
    """The keywords of :class:`piaoju.Client` and :meth:`~piaoju.Client.with_options` (where
    ``None`` removes a setting)."""

    juhe_key: Optional[str]
    juhe_base_url: Optional[str]
    chinaums_app_id: Optional[str]
    chinaums_app_key: Optional[str]
    chinaums_environment: Optional[Literal["test", "production"]]
    chinaums_base_url: Optional[str]
    chinaums_token_url: Optional[str]
    chinaums_auth: Optional[Literal["access_token", "body_signature"]]
    chinaums_max_base64_bytes: Optional[int]
    chinaums_max_side: Optional[int]
    timeout: Optional[float]
    connect_timeout: Optional[float]
    proxy: Optional[str]
    user_agent: Optional[str]
    tls_roots: Optional[Literal["bundled", "system"]]
    tls_ca_file: Union[None, str, "os.PathLike[str]"]
    image_fit: Optional[Literal["auto", "off"]]
    retry_max_attempts: Optional[int]
    retry_base_delay: Optional[float]
    retry_max_delay: Optional[float]
    max_qps: Optional[float]
    max_in_flight: Optional[int]
    cache: Union[None, str, "os.PathLike[str]"]


# How a keyword's value becomes its JSON value (and back, for the repr).
_TEXT, _SECRET, _URL, _INT, _NUMBER, _SECONDS, _DELAY, _PATH = range(8)

#: keyword -> (its path in the configuration JSON, its kind). In the order of the repr.
_KEYWORDS: Dict[str, Tuple[Tuple[str, ...], int]] = {
    "juhe_key": (("juhe", "key"), _SECRET),
    "juhe_base_url": (("juhe", "base_url"), _URL),
    "chinaums_app_id": (("chinaums", "app_id"), _TEXT),
    "chinaums_app_key": (("chinaums", "app_key"), _SECRET),
    "chinaums_environment": (("chinaums", "environment"), _TEXT),
    "chinaums_base_url": (("chinaums", "base_url"), _URL),
    "chinaums_token_url": (("chinaums", "token_url"), _URL),
    "chinaums_auth": (("chinaums", "auth"), _TEXT),
    "chinaums_max_base64_bytes": (("chinaums", "max_base64_bytes"), _INT),
    "chinaums_max_side": (("chinaums", "max_side"), _INT),
    "timeout": (("timeout_ms",), _SECONDS),
    "connect_timeout": (("connect_timeout_ms",), _SECONDS),
    "proxy": (("proxy",), _URL),
    "user_agent": (("user_agent",), _TEXT),
    "tls_roots": (("tls", "roots"), _TEXT),
    "tls_ca_file": (("tls", "ca_file"), _PATH),
    "image_fit": (("image_fit",), _TEXT),
    "retry_max_attempts": (("retry", "max_attempts"), _INT),
    "retry_base_delay": (("retry", "base_delay_ms"), _DELAY),
    "retry_max_delay": (("retry", "max_delay_ms"), _DELAY),
    "max_qps": (("max_qps",), _NUMBER),
    "max_in_flight": (("max_in_flight",), _INT),
    "cache": (("cache", "path"), _PATH),
}

_WHAT = {
    _TEXT: "a str",
    _SECRET: "a str",
    _URL: "a str (a URL)",
    _INT: "an int",
    _NUMBER: "a number",
    _SECONDS: "a positive number of seconds",
    _DELAY: "a number of seconds (0 or more)",
    _PATH: "a path (str or os.PathLike)",
}


def _config_error(message: str) -> NoReturn:
    _native.raise_error(101, message)
    raise AssertionError("raise_error always raises")


def _json_value(name: str, kind: int, value: Any) -> Any:
    """The configuration JSON's value for a keyword's value. Only the Python types are checked
    here (the message names the keyword, never a value that could be a secret); core checks
    the values."""
    if kind in (_TEXT, _SECRET, _URL):
        ok = isinstance(value, str)
    elif kind == _INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == _PATH:
        if isinstance(value, (str, os.PathLike)):
            return os.fsdecode(os.fspath(value))
        ok = False
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and kind == _SECONDS and not value > 0:
            _config_error(f"{name} must be a positive number of seconds, got {value!r}")
        if ok and kind == _DELAY and value < 0:
            _config_error(f"{name} must be 0 or more seconds, got {value!r}")
        if ok and kind in (_SECONDS, _DELAY):
            # Milliseconds, as the JSON has them; a positive timeout is at least 1 ms.
            ms = round(value * 1000)
            return max(1, ms) if kind == _SECONDS else ms
    if not ok:
        _config_error(f"{name} must be {_WHAT[kind]}, not {type(value).__name__}")
    return value


def apply(config: Dict[str, Any], changes: Dict[str, Any], caller: str) -> Dict[str, Any]:
    """``config`` (a configuration dict, not modified) with keyword ``changes``: a value sets
    its key, ``None`` removes it (and a section left empty). An unknown keyword is a
    TypeError, as for any Python call."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for name, value in changes.items():
        if name not in _KEYWORDS:
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
        path, kind = _KEYWORDS[name]
        *sections, key = path
        parent: Optional[Dict[str, Any]] = out
        for section in sections:
            child = parent.get(section) if parent is not None else None
            if not isinstance(child, dict):
                if value is None:
                    parent = None
                    break
                child = out[section] = {}
            parent = child
        if parent is None:
            continue
        if value is None:
            parent.pop(key, None)
            if sections and not parent:
                del out[sections[0]]
        else:
            parent[key] = _json_value(name, kind, value)
    return out


def _redact_url(url: str) -> str:
    """The URL with a password as ``***`` (``http://user:***@host``); a user name alone (a
    token, often) as ``***`` too. The user information ends at the authority's last ``@``, as
    core reads it."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    start = scheme_end + 3
    end = min((i for i in (url.find(c, start) for c in "/?#") if i >= 0), default=len(url))
    at = url.rfind("@", start, end)
    if at < 0:
        return url
    user, colon, _ = url[start:at].partition(":")
    shown = f"{user}:***" if colon else "***"
    return url[:start] + shown + url[at:]


def keywords_of(config: Dict[str, Any]) -> List[Tuple[str, Any]]:
    """The keywords that give ``config`` (those set, in the table's order), as the repr shows
    them: secrets as ``'***'``, URL passwords masked, milliseconds as seconds."""
    shown: List[Tuple[str, Any]] = []
    for name, (path, kind) in _KEYWORDS.items():
        value: Any = config
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        if kind == _SECRET:
            value = "***"
        elif kind == _URL and isinstance(value, str):
            value = _redact_url(value)
        elif kind in (_SECONDS, _DELAY) and isinstance(value, (int, float)):
            value = value / 1000
        shown.append((name, value))
    return shown


def keyword_names() -> List[str]:
    """Every keyword, in order."""
    return list(_KEYWORDS)
