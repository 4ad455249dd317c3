"""The in-process sandbox: both providers' protocols on 127.0.0.1, for offline work and tests."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, List, Optional, Tuple, Type

from . import _native
from ._client import Client, _image_arg

__all__ = ["Sandbox"]


class Sandbox:
    """A local server speaking the Juhe and ChinaUMS protocols. Use it as a context manager::

        with piaoju.Sandbox() as sandbox:
            receipt = sandbox.client().recognize_shopping_receipt("receipt.png")

    Faults (``"delay=200"``, ``"http500"``, ``"http502"``, ``"http503"``, ``"malformed"``,
    ``"truncated"``, ``"close"``, ``"juhe=CODE"``, ``"answer=CODE"``, ``"token=ERRCODE"``,
    ``"wrapped"``, ``"reject-token"``, ``"reject-tokens"``, comma-separated) apply to one
    client with ``client(faults=...)``, or to every request with :meth:`set_faults`.
    """

    def __init__(self, token_ttl: Optional[float] = None) -> None:
        self._native = _native.Sandbox(token_ttl)

    @property
    def url(self) -> str:
        return self._native.url

    @property
    def juhe_key(self) -> str:
        return self._native.juhe_key

    @property
    def chinaums_app_id(self) -> str:
        return self._native.chinaums_app_id

    @property
    def chinaums_app_key(self) -> str:
        return self._native.chinaums_app_key

    def fault_url(self, faults: str) -> str:
        """A base URL whose requests get these faults."""
        return self._native.fault_url(faults)

    def config(self, faults: Optional[str] = None, auth: str = "access_token",
               timeout: Optional[float] = None) -> Dict[str, Any]:
        """A configuration dict for this sandbox (both providers)."""
        base = self.fault_url(faults) if faults else self.url
        config: Dict[str, Any] = self._native.config(base, auth)
        if timeout is not None:
            config["timeout_ms"] = max(1, round(timeout * 1000))
        return config

    def client(self, faults: Optional[str] = None, auth: str = "access_token",
               timeout: Optional[float] = None) -> Client:
        """A :class:`piaoju.Client` configured for this sandbox."""
        return Client.from_config(self.config(faults, auth, timeout))

    def set_faults(self, faults: str) -> None:
        """Apply faults to every request until :meth:`clear_faults`."""
        self._native.set_faults(faults)

    def clear_faults(self) -> None:
        self._native.clear_faults()

    def revoke_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        self._native.revoke_tokens()

    def register_answer(self, image: Any, body: str, status: int = 200) -> None:
        """Answer ``body`` (verbatim) with ``status`` to every request carrying this image."""
        data = _image_arg(image)
        if isinstance(data, str):
            with open(data, "rb") as f:
                data = f.read()
        self._native.register_answer(data, status, body)

    def stats(self) -> Dict[str, Any]:
        """Requests received: ``juhe_requests``, ``ocr_requests``, ``tokens_issued``,
        ``token_requests``, ``auth_rejections``, ``connections``, ``max_in_flight`` (the most
        requests handled at the same time), and ``images``: for every image seen, by the hex
        SHA-256 of its bytes, ``{"received": n, "answered": m}`` (answered: not refused by a
        ``flaky`` or ``rate_limit`` fault), so that a test can prove no image was sent twice."""
        return dict(self._native.stats())

    def arrivals(self) -> List[float]:
        """When each OCR request arrived, in seconds since the sandbox started (in order), so
        that a test can check a rate limit: no one-second window may hold more than it."""
        return list(self._native.arrivals())

    def image_requests(self, image: Any) -> Tuple[int, int]:
        """For one image (bytes or a path): OCR requests received, and answered."""
        data = _image_arg(image)
        if isinstance(data, str):
            with open(data, "rb") as f:
                data = f.read()
        received, answered = self._native.image_requests(data)
        return (received, answered)

    def close(self) -> None:
        self._native.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<piaoju.Sandbox {self.url}>"
