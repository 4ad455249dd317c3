"""The client: configuration in, typed results out; every call is the core's."""

from __future__ import annotations

import json
import os
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple, NoReturn, Optional, Union

from . import _native
from ._models import ShoppingReceipt, UsedCarInvoice
from .errors import PiaojuError, _from_json

__all__ = ["Client", "Image", "BatchItem"]

#: What the recognize methods take: a path, the bytes of the file, or a binary file object.
Image = Union[str, "os.PathLike[str]", "os.PathLike[bytes]", bytes, bytearray, memoryview, IO[bytes]]


def _usage_error(code: int, message: str) -> NoReturn:
    """Raise the catalogue's exception for a usage error found here (before the core)."""
    _native.raise_error(code, message)
    raise AssertionError("raise_error always raises")


def _image_arg(image: Any) -> Union[str, bytes]:
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        return os.fsdecode(path) if isinstance(path, bytes) else path
    if isinstance(image, bytes):
        return image
    if isinstance(image, (bytearray, memoryview)):
        return bytes(image)
    read = getattr(image, "read", None)
    if callable(read):
        # One byte past the limit is enough to refuse it: an endless stream is never read whole.
        data = read(_native.MAX_IMAGE_LEN + 1)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        _usage_error(100, f"the file object's read() returned {type(data).__name__}, not bytes: open it in binary mode ('rb')")
    _usage_error(100, f"image must be a path, bytes, bytearray, memoryview or a binary file object, not {type(image).__name__}")


def _milliseconds(name: str, seconds: Optional[float]) -> Optional[int]:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        _usage_error(101, f"{name} must be a positive number of seconds, got {seconds!r}")
    return max(1, round(seconds * 1000))


class Client:
    """A client for both providers. Thread-safe: share one between threads.

    Only the credentials of the provider being called are needed. ``timeout`` and
    ``connect_timeout`` are in seconds. ``image_fit="auto"`` fits an over-limit image to the
    provider's limits (``"off"`` refuses it). Nothing is sent until a recognize method is called, and
    then only after the image passed its checks.
    """

    def __init__(
        self,
        juhe_key: Optional[str] = None,
        juhe_base_url: Optional[str] = None,
        chinaums_app_id: Optional[str] = None,
        chinaums_app_key: Optional[str] = None,
        chinaums_environment: str = "test",
        chinaums_base_url: Optional[str] = None,
        chinaums_token_url: Optional[str] = None,
        chinaums_auth: str = "access_token",
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        proxy: Optional[str] = None,
        image_fit: str = "auto",
    ) -> None:
        config: Dict[str, Any] = {}
        if juhe_key is not None or juhe_base_url is not None:
            config["juhe"] = {k: v for k, v in (("key", juhe_key), ("base_url", juhe_base_url)) if v is not None}
        chinaums = {
            k: v
            for k, v in (
                ("app_id", chinaums_app_id),
                ("app_key", chinaums_app_key),
                ("base_url", chinaums_base_url),
                ("token_url", chinaums_token_url),
            )
            if v is not None
        }
        if chinaums or chinaums_environment != "test" or chinaums_auth != "access_token":
            chinaums["environment"] = chinaums_environment
            chinaums["auth"] = chinaums_auth
            config["chinaums"] = chinaums
        for key, value in (
            ("timeout_ms", _milliseconds("timeout", timeout)),
            ("connect_timeout_ms", _milliseconds("connect_timeout", connect_timeout)),
            ("proxy", proxy),
            ("image_fit", None if image_fit == "auto" else image_fit),
        ):
            if value is not None:
                config[key] = value
        self._config_text: Optional[str] = json.dumps(config)
        self._native = _native.Client(self._config_text)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Client":
        """A client from the configuration dict (the same keys as the C ABI's JSON).

        The dict is the whole configuration: ``{}`` is empty, and the environment is not read
        (use :meth:`from_env` for that), as in Rust and C."""
        if not isinstance(config, Mapping):
            _usage_error(101, f"config must be a mapping, not {type(config).__name__}")
        try:
            text = json.dumps(dict(config))
        except (TypeError, ValueError) as e:
            _usage_error(101, f"config is not JSON-serializable: {e}")
        return cls._from_text(text)

    @classmethod
    def from_env(cls) -> "Client":
        """A client from the PIAOJU_* environment variables, read once, now: the client (and a
        pickle of it) keeps that configuration whatever the environment says later."""
        client = cls._from_text(None)
        client._config_text = client._native.config_json()
        return client

    @classmethod
    def _from_text(cls, text: Optional[str]) -> "Client":
        client = cls.__new__(cls)
        client._config_text = text
        client._native = _native.Client(text)
        return client

    def recognize_shopping_receipt(self, image: Image) -> ShoppingReceipt:
        """Recognize a shopping receipt (Juhe). The GIL is released during the call."""
        return ShoppingReceipt._from_json(self._native.recognize_shopping_receipt(_image_arg(image)))

    def recognize_used_car_invoice(self, image: Image) -> UsedCarInvoice:
        """Recognize a used-car sales invoice (ChinaUMS). The GIL is released during the call."""
        return UsedCarInvoice._from_json(self._native.recognize_used_car_invoice(_image_arg(image)))

    def __repr__(self) -> str:
        return f"<piaoju.Client {self._native.describe()}>"

    def recognize_many(
        self,
        images: Iterable[Image],
        kind: str = "receipt",
        jobs: int = 4,
        qps: Optional[float] = None,
        on_progress: Optional[Callable[[Dict[str, int]], None]] = None,
        retry_failed: bool = False,
    ) -> Iterator["BatchItem"]:
        """Recognize many images (``kind`` "receipt" or "invoice") with ``jobs`` calls at once,
        through this client's retries, limits and cache; ``qps`` caps the requests a second.

        Yields a :class:`BatchItem` (``input``, ``result`` or ``error``) per image, in the order
        they finish; a failed image does not stop the rest. ``on_progress`` receives
        ``{total, done, failed, cached, in_flight}`` after each one. The GIL is released while
        waiting. Ctrl-C stops sending at once (no call starts; none waiting for ``qps`` or a
        retry sends; calls whose request is out end by their deadline) and raises
        KeyboardInterrupt. ``jobs`` is 1 to 256. A recorded answer that is a failure (no
        document detected, …) is returned again without a request unless ``retry_failed``."""
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 256:
            _usage_error(100, f"jobs must be a whole number from 1 to 256, got {jobs!r}")
        inputs = list(images)
        client = self
        if qps is not None:
            config: Dict[str, Any] = json.loads(self._config_text) if self._config_text else {}
            config["max_qps"] = qps
            client = Client.from_config(config)
        batch = client._native.start_batch(kind, [_image_arg(i) for i in inputs], jobs, retry_failed)
        record = ShoppingReceipt if kind == "receipt" else UsedCarInvoice
        return _batch_items(batch, inputs, record, on_progress)

    def __reduce__(self) -> Any:
        # A client pickles as its configuration (credentials included), and rebuilds itself
        # (new connections) where it is unpickled: Dask, Ray and Spark workers can receive it.
        return (Client._from_text, (self._config_text,))


def _batch_items(
    batch: Any,
    inputs: List[Any],
    record: Any,
    on_progress: Optional[Callable[[Dict[str, int]], None]],
) -> Iterator["BatchItem"]:
    while True:
        item = batch.next()
        if item is None:
            return
        index, ok, text, progress = item
        if on_progress is not None:
            on_progress(json.loads(progress))
        if ok:
            yield BatchItem(inputs[index], record._from_json(text), None)
        else:
            yield BatchItem(inputs[index], None, _from_json(text))


class BatchItem(NamedTuple):
    """One image of :meth:`Client.recognize_many`: its input, and its result or its error."""

    input: Any
    result: Optional[Union[ShoppingReceipt, UsedCarInvoice]]
    error: Optional[PiaojuError]

    @property
    def cache_error(self) -> Optional[str]:
        """Why the answer could not be recorded in the result cache (a rerun would pay for it
        again), if it could not."""
        if self.result is None:
            return None
        return self.result.cache_error
