"""The client: configuration in, typed results out; every call is the core's."""

from __future__ import annotations

import json
import os
import threading
from typing import (
    IO,
    TYPE_CHECKING,
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
    Tuple,
    TypedDict,
    TypeVar,
    Union,
    overload,
)

from . import _native, _options
from ._models import ShoppingReceipt, UsedCarInvoice
from .errors import PiaojuError, _from_json

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

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


#: The document types a batch takes (``kind``): their names, as results (``document_type``)
#: and the one-shot call (``operation``) say them; the CLI's short words are aliases.
_KINDS: Dict[str, str] = {
    "shopping_receipt": "shopping_receipt",
    "used_car_invoice": "used_car_invoice",
    "receipt": "shopping_receipt",
    "invoice": "used_car_invoice",
}


class _BaseClient:
    """What :class:`Client` and :class:`AsyncClient` share: the configuration, its keywords,
    the repr, :meth:`with_options`, pickling and the batch's arguments."""

    _native: _native.Client
    #: The configuration JSON the native client was made from (None: the environment's).
    _config_text: Optional[str]

    def __init__(
        self,
        *,
        juhe_key: Optional[str] = None,
        juhe_base_url: Optional[str] = None,
        chinaums_app_id: Optional[str] = None,
        chinaums_app_key: Optional[str] = None,
        chinaums_environment: Optional[Literal["test", "production"]] = None,
        chinaums_base_url: Optional[str] = None,
        chinaums_token_url: Optional[str] = None,
        chinaums_auth: Optional[Literal["access_token", "body_signature"]] = None,
        chinaums_max_base64_bytes: Optional[int] = None,
        chinaums_max_side: Optional[int] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        proxy: Optional[str] = None,
        user_agent: Optional[str] = None,
        tls_roots: Optional[Literal["bundled", "system"]] = None,
        tls_ca_file: Union[None, str, "os.PathLike[str]"] = None,
        image_fit: Optional[Literal["auto", "off"]] = None,
        retry_max_attempts: Optional[int] = None,
        retry_base_delay: Optional[float] = None,
        retry_max_delay: Optional[float] = None,
        max_qps: Optional[float] = None,
        max_in_flight: Optional[int] = None,
        cache: Union[None, str, "os.PathLike[str]"] = None,
    ) -> None:
        keywords = dict(
            juhe_key=juhe_key,
            juhe_base_url=juhe_base_url,
            chinaums_app_id=chinaums_app_id,
            chinaums_app_key=chinaums_app_key,
            chinaums_environment=chinaums_environment,
            chinaums_base_url=chinaums_base_url,
            chinaums_token_url=chinaums_token_url,
            chinaums_auth=chinaums_auth,
            chinaums_max_base64_bytes=chinaums_max_base64_bytes,
            chinaums_max_side=chinaums_max_side,
            timeout=timeout,
            connect_timeout=connect_timeout,
            proxy=proxy,
            user_agent=user_agent,
            tls_roots=tls_roots,
            tls_ca_file=tls_ca_file,
            image_fit=image_fit,
            retry_max_attempts=retry_max_attempts,
            retry_base_delay=retry_base_delay,
            retry_max_delay=retry_max_delay,
            max_qps=max_qps,
            max_in_flight=max_in_flight,
            cache=cache,
        )
        config = _options.apply({}, {k: v for k, v in keywords.items() if v is not None}, type(self).__name__)
        self._init(json.dumps(config))

    def _init(self, text: Optional[str]) -> None:
        self._config_text = text
        self._native = _native.Client(text)

    @classmethod
    def _from_text(cls, text: Optional[str]) -> "Self":
        client = cls.__new__(cls)
        client._init(text)
        return client

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Self":
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
    def from_env(cls) -> "Self":
        """A client from the PIAOJU_* environment variables, read once, now: the client (and a
        pickle of it) keeps that configuration whatever the environment says later."""
        client = cls._from_text(None)
        client._config_text = client._native.config_json()
        return client

    def _config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = json.loads(self._config_text or self._native.config_json())
        return config

    def with_options(self, **changes: "Unpack[_options.ClientOptions]") -> "Self":
        """A new client with this one's configuration and these changes (the constructor's
        keywords; ``None`` removes a setting). This client is left as it is; the new one has
        its own connections, rate limits and retry budget::

            slow = client.with_options(timeout=60.0, retry_max_attempts=1)
        """
        config = _options.apply(self._config(), dict(changes), "with_options")
        return type(self)._from_text(json.dumps(config))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in _options.keywords_of(self._config()))
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> Any:
        # A client pickles as its configuration (credentials included), and rebuilds itself
        # (new connections) where it is unpickled: Dask, Ray and Spark workers can receive it.
        return (type(self)._from_text, (self._config_text,))

    def _batch_plan(
        self,
        images: Iterable[Image],
        kind: str,
        jobs: int,
        qps: Optional[float],
        retry_failed: bool,
        max_requests: Optional[int],
        cache: Union[None, bool, str, "os.PathLike[str]"],
    ) -> "Tuple[Callable[[], Any], List[Any], Any]":
        """Check a batch's arguments; ``(start, inputs, record)``: ``start()`` starts the native
        batch (it reads file objects and may open the cache), ``record`` the result class."""
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 256:
            _usage_error(100, f"jobs must be a whole number from 1 to 256, got {jobs!r}")
        if max_requests is not None and (
            isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1
        ):
            _usage_error(100, f"max_requests must be a positive whole number, got {max_requests!r}")
        document_type = _KINDS.get(kind) if isinstance(kind, str) else None
        if document_type is None:
            _usage_error(
                100,
                f'kind must be "shopping_receipt" or "used_car_invoice" (or "receipt", "invoice"), not {kind!r}',
            )
        if cache is True:
            _usage_error(100, "cache must be None (the default cache), False (none) or a path, not True")
        inputs = list(images)

        def start() -> Any:
            changes: Dict[str, Any] = {}
            if qps is not None:
                changes["max_qps"] = qps
            configured = self._config().get("cache")
            if cache is None:
                if configured is None:
                    path = _native.user_cache_path()
                    if path is not None:
                        changes["cache"] = {"path": path}
            elif cache is False:
                if configured is not None:
                    changes["cache"] = None
            else:
                changes["cache"] = {"path": os.fspath(cache)}
            client = self._derived(changes)
            return client._native.start_batch(
                document_type, [_image_arg(i) for i in inputs], jobs, retry_failed, max_requests
            )

        record = ShoppingReceipt if document_type == "shopping_receipt" else UsedCarInvoice
        return start, inputs, record

    def _derived(self, changes: Dict[str, Any]) -> "_BaseClient":
        """This client with ``changes`` to its configuration (``None`` removes a key): the same
        client object for the same changes, so that its connections, rate limits and learned
        provider limits are shared by every batch that asks for them."""
        if not changes:
            return self
        config = self._config()
        for key, value in changes.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        text = json.dumps(config, sort_keys=True)
        with _DERIVED_LOCK:
            derived: Dict[str, _BaseClient] = self.__dict__.setdefault("_derived_clients", {})
            if text not in derived:
                derived[text] = _BaseClient._from_text(text)
            return derived[text]


_DERIVED_LOCK = threading.Lock()


class Client(_BaseClient):
    """A client for both providers. Thread-safe: share one between threads.

    Keyword-only: each keyword is a key of the configuration that :meth:`from_config` takes,
    named by its path (``juhe.key`` is ``juhe_key``, ``retry.max_attempts`` is
    ``retry_max_attempts``, ``cache.path`` is ``cache``), in seconds where the JSON says
    milliseconds (``timeout``, ``connect_timeout``, ``retry_base_delay``, ``retry_max_delay``):
    ``juhe_key``, ``juhe_base_url``; ``chinaums_app_id``, ``chinaums_app_key``,
    ``chinaums_environment`` ("test" or "production"), ``chinaums_base_url``,
    ``chinaums_token_url``, ``chinaums_auth`` ("access_token" or "body_signature"),
    ``chinaums_max_base64_bytes``, ``chinaums_max_side``; ``timeout`` (default 15 s),
    ``connect_timeout`` (5 s); ``proxy`` (an http(s) URL); ``user_agent``; ``tls_roots``
    ("bundled" or "system"), ``tls_ca_file``; ``image_fit`` ("auto" fits an over-limit image
    to the provider's limits, "off" refuses it); ``retry_max_attempts`` (3; 1 turns retries
    off), ``retry_base_delay``, ``retry_max_delay``; ``max_qps``, ``max_in_flight``; ``cache``
    (a SQLite file). docs/configuration.md documents each. Core checks every value when the
    client is made: a wrong type or value is a :class:`piaoju.ConfigError`. Only the
    credentials of the provider being called are needed. Nothing is sent until a recognize
    method is called, and then only after the image passed its checks.

    ``repr(client)`` shows the settings given, secrets as ``'***'``; :meth:`with_options`
    returns a changed copy; a client pickles as its configuration (credentials included).
    """

    def recognize_shopping_receipt(self, image: Image) -> ShoppingReceipt:
        """Recognize a shopping receipt (Juhe). The GIL is released during the call."""
        return ShoppingReceipt._from_json(self._native.recognize_shopping_receipt(_image_arg(image)))

    def recognize_used_car_invoice(self, image: Image) -> UsedCarInvoice:
        """Recognize a used-car sales invoice (ChinaUMS). The GIL is released during the call."""
        return UsedCarInvoice._from_json(self._native.recognize_used_car_invoice(_image_arg(image)))

    @overload
    def recognize_many(
        self,
        images: Iterable[Image],
        kind: Literal["shopping_receipt", "receipt"] = ...,
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
        kind: Literal["used_car_invoice", "invoice"],
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
        kind: str = "shopping_receipt",
        jobs: int = 4,
        qps: Optional[float] = None,
        on_progress: Optional[Callable[["Progress"], None]] = None,
        retry_failed: bool = False,
        max_requests: Optional[int] = None,
        cache: Union[None, bool, str, "os.PathLike[str]"] = None,
    ) -> "Union[BatchResults[ShoppingReceipt], BatchResults[UsedCarInvoice]]":
        """Recognize many images of one document type (``kind``: "shopping_receipt" or
        "used_car_invoice", the names results carry as ``document_type``; "receipt" and
        "invoice" are accepted too) with ``jobs`` calls at once (1 to 256), through this
        client's retries, limits and cache.

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
        ``results.summary`` says what the batch did once it has ended. A batch that asks for
        another cache or ``qps`` than the client's runs on a client derived from this one (one
        per change, shared by the batches that ask for the same): its rate limits, and the
        provider's limit it learns, are that client's."""
        start, inputs, record = self._batch_plan(images, kind, jobs, qps, retry_failed, max_requests, cache)
        return BatchResults(start(), inputs, record, on_progress)


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


def _batch_item(
    item: Tuple[int, bool, str, str],
    inputs: List[Any],
    record: "type[R]",
) -> "Tuple[BatchItem[R], Progress]":
    """A native batch's item as a :class:`BatchItem`, and the progress after it."""
    index, ok, text, progress = item
    if ok:
        built = BatchItem(inputs[index], record._from_json(text), None)
    else:
        built = BatchItem(inputs[index], None, _from_json(text))
    return built, json.loads(progress)


def _announce(results: Any, item: "BatchItem[R]", progress: "Progress") -> "BatchItem[R]":
    """Tell ``results``'s ``on_progress``; should it raise, the item is kept for the next
    call (an exception in a progress callback loses no item)."""
    if results._on_progress is not None:
        try:
            results._on_progress(progress)
        except BaseException:
            results._held = item
            raise
    return item


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
        #: An item whose on_progress raised: the next call returns it.
        self._held: "Optional[BatchItem[R]]" = None

    def __iter__(self) -> "BatchResults[R]":
        return self

    def __next__(self) -> "BatchItem[R]":
        if self._held is not None:
            held, self._held = self._held, None
            return held
        item = self._batch.next()
        if item is None:
            raise StopIteration
        return _announce(self, *_batch_item(item, self._inputs, self._record))

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
