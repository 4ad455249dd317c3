"""The client: configuration in, typed results out; every call is the core's."""

from __future__ import annotations

import json
import os
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Generic,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Literal,
    NoReturn,
    Optional,
    TypedDict,
    TypeVar,
    Union,
    overload,
)

from . import _native
from ._models import ShoppingReceipt, UsedCarInvoice
from .errors import PiaojuError, _from_json

__all__ = ["Client", "Image", "BatchItem", "BatchResults", "BatchSummary", "Progress"]

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

    @overload
    def recognize_many(
        self,
        images: Iterable[Image],
        kind: Literal["receipt"] = ...,
        jobs: int = ...,
        qps: Optional[float] = ...,
        on_progress: Optional[Callable[["Progress"], None]] = ...,
        retry_failed: bool = ...,
        max_requests: Optional[int] = ...,
        cache: Union[None, bool, str, "os.PathLike[str]"] = ...,
    ) -> "BatchResults[ShoppingReceipt]": ...

    @overload
    def recognize_many(
        self,
        images: Iterable[Image],
        kind: Literal["invoice"],
        jobs: int = ...,
        qps: Optional[float] = ...,
        on_progress: Optional[Callable[["Progress"], None]] = ...,
        retry_failed: bool = ...,
        max_requests: Optional[int] = ...,
        cache: Union[None, bool, str, "os.PathLike[str]"] = ...,
    ) -> "BatchResults[UsedCarInvoice]": ...

    def recognize_many(
        self,
        images: Iterable[Image],
        kind: str = "receipt",
        jobs: int = 4,
        qps: Optional[float] = None,
        on_progress: Optional[Callable[["Progress"], None]] = None,
        retry_failed: bool = False,
        max_requests: Optional[int] = None,
        cache: Union[None, bool, str, "os.PathLike[str]"] = None,
    ) -> "Union[BatchResults[ShoppingReceipt], BatchResults[UsedCarInvoice]]":
        """Recognize many images (``kind`` "receipt" or "invoice") with ``jobs`` calls at once
        (1 to 256), through this client's retries, limits and cache.

        Returns a :class:`BatchResults`: iterate it for a :class:`BatchItem` (``input``,
        ``result`` or ``error``) per image, in the order they finish; a failed image does not
        stop the rest. An image is started only while fewer than ``jobs`` are in progress or
        waiting to be taken, so a consumer that stops stops the batch; closing it (``with``,
        ``close()``, or dropping it) stops sending at once. ``on_progress`` receives
        ``{total, done, failed, cached, in_flight}`` after each one. The GIL is released while
        waiting. The first Ctrl-C stops sending, waits for the calls whose request is out
        (within their deadline: their answers are recorded, and their items are still
        yielded after the KeyboardInterrupt it then raises); a second raises at once.

        ``qps`` caps the requests a second; the provider's own limit is learned (an image it
        refuses for its rate goes back into the queue). ``max_requests`` caps the requests the
        batch sends (retries included): the rest are not started. ``cache``: the result cache
        (default: the client's, else the user's, ``~/.cache/piaoju/results.sqlite``; ``False``
        for none; or a path): an image answered once is never paid for again, and the same
        bytes given twice are sent once. A recorded answer that is a failure (no document
        detected, …) is returned again without a request unless ``retry_failed``.
        ``results.summary`` says what the batch did once it has ended."""
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 256:
            _usage_error(100, f"jobs must be a whole number from 1 to 256, got {jobs!r}")
        if max_requests is not None and (
            isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1
        ):
            _usage_error(100, f"max_requests must be a positive whole number, got {max_requests!r}")
        if kind not in ("receipt", "invoice"):
            _usage_error(100, f'kind must be "receipt" or "invoice", not {kind!r}')
        changes: Dict[str, Any] = {}
        if qps is not None:
            changes["max_qps"] = qps
        configured = json.loads(self._config_text or "{}").get("cache")
        if cache is None:
            if configured is None:
                path = _native.user_cache_path()
                if path is not None:
                    changes["cache"] = {"path": path}
        elif cache is False:
            if configured is not None:
                changes["cache"] = None
        elif cache is True:
            _usage_error(100, "cache must be None (the default cache), False (none) or a path, not True")
        else:
            changes["cache"] = {"path": os.fspath(cache)}
        inputs = list(images)
        client = self._derived(changes)
        batch = client._native.start_batch(
            kind, [_image_arg(i) for i in inputs], jobs, retry_failed, max_requests
        )
        if kind == "receipt":
            return BatchResults(batch, inputs, ShoppingReceipt, on_progress)
        return BatchResults(batch, inputs, UsedCarInvoice, on_progress)

    def _derived(self, changes: Dict[str, Any]) -> "Client":
        """This client with ``changes`` to its configuration (``None`` removes a key): the same
        client object for the same changes, so that its connections, rate limits and learned
        provider limits are shared by every batch that asks for them."""
        if not changes:
            return self
        config: Dict[str, Any] = json.loads(self._config_text or "{}")
        for key, value in changes.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        text = json.dumps(config, sort_keys=True)
        derived: Dict[str, Client] = self.__dict__.setdefault("_derived_clients", {})
        if text not in derived:
            derived[text] = Client._from_text(text)
        return derived[text]

    def __reduce__(self) -> Any:
        # A client pickles as its configuration (credentials included), and rebuilds itself
        # (new connections) where it is unpickled: Dask, Ray and Spark workers can receive it.
        return (Client._from_text, (self._config_text,))


class BatchSummary(NamedTuple):
    """What a batch did (:attr:`BatchResults.summary`)."""

    total: int
    succeeded: int
    failed: int
    #: Answered from the result cache (no request).
    cached: int
    #: Never started: the batch was stopped, or its ``max_requests`` budget was spent.
    not_started: int
    #: Requests sent, retries included.
    requests: int
    #: Requests the provider may have billed: sent and not refused before processing.
    possibly_billed_requests: int
    #: Requests the provider refused for its rate (not processed).
    refused_requests: int
    #: Failed images whose request the provider may have processed.
    possibly_billed_failures: int
    cancelled: bool
    budget_spent: bool
    #: Answers the cache could not record (a rerun would pay for them again), and why.
    cache_failures: int
    cache_error: Optional[str]
    wall_seconds: float


#: The result type of a batch: :class:`ShoppingReceipt` or :class:`UsedCarInvoice`.
R = TypeVar("R", ShoppingReceipt, UsedCarInvoice)


class Progress(TypedDict):
    """Where a batch stands, as ``on_progress`` receives it after each image."""

    total: int
    done: int
    failed: int
    cached: int
    in_flight: int


class BatchResults(Iterator["BatchItem[R]"], Generic[R]):
    """The items of :meth:`Client.recognize_many`, as they finish. Closing it (``close()``, the
    end of a ``with`` block, or dropping it) stops the batch: nothing more is sent but the
    calls already out."""

    def __init__(
        self,
        batch: Any,
        inputs: List[Any],
        record: "type[R]",
        on_progress: Optional[Callable[[Progress], None]],
    ) -> None:
        self._batch = batch
        self._inputs = inputs
        self._record: "type[R]" = record
        self._on_progress = on_progress

    def __iter__(self) -> "BatchResults[R]":
        return self

    def __next__(self) -> "BatchItem[R]":
        item = self._batch.next()
        if item is None:
            raise StopIteration
        index, ok, text, progress = item
        if self._on_progress is not None:
            self._on_progress(json.loads(progress))
        if ok:
            return BatchItem(self._inputs[index], self._record._from_json(text), None)
        return BatchItem(self._inputs[index], None, _from_json(text))

    def close(self) -> None:
        """Stop the batch: no call starts, none waiting to send sends; calls whose request is
        out end by their deadline (their answers are recorded in the cache)."""
        self._batch.cancel()

    def __enter__(self) -> "BatchResults[R]":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        batch = getattr(self, "_batch", None)
        if batch is not None:
            batch.cancel()

    @property
    def summary(self) -> Optional[BatchSummary]:
        """What the batch did, once it has ended (all items taken); None before."""
        text = self._batch.summary()
        if text is None:
            return None
        return BatchSummary(**json.loads(text))


class BatchItem(Generic[R]):
    """One image of :meth:`Client.recognize_many`: its input, and its result (typed by the
    batch's ``kind``) or its error. Unpacks as ``input, result, error``."""

    __slots__ = ("input", "result", "error")

    def __init__(self, input: Any, result: Optional[R], error: Optional[PiaojuError]) -> None:
        self.input: Any = input
        self.result: Optional[R] = result
        self.error: Optional[PiaojuError] = error

    def __iter__(self) -> Iterator[Any]:
        return iter((self.input, self.result, self.error))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BatchItem) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BatchItem(input={self.input!r}, result={self.result!r}, error={self.error!r})"

    @property
    def cache_error(self) -> Optional[str]:
        """Why the answer could not be recorded in the result cache (a rerun would pay for it
        again), if it could not."""
        if self.result is None:
            return None
        return self.result.cache_error
