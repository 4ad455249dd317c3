"""The asyncio client: the same calls as :class:`piaoju.Client`, as coroutines."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Generic,
    Iterable,
    List,
    Literal,
    Optional,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from ._client import (
    BatchItem,
    BatchSummary,
    Image,
    Progress,
    R,
    _BaseClient,
    _announce,
    _batch_item,
    _image_arg,
)
from ._models import ShoppingReceipt, UsedCarInvoice

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["AsyncClient", "AsyncBatchResults", "MAX_CONCURRENT_CALLS"]

#: How many calls of every :class:`AsyncClient` of the process run at once, each on a thread of
#: piaoju's own pool (asyncio's default executor has only a few threads); more wait their turn.
#: A thread waits for the network with the GIL released.
MAX_CONCURRENT_CALLS = 256

_T = TypeVar("_T")
_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    """The process's pool for async calls, made at first use (threads start as calls need
    them)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(MAX_CONCURRENT_CALLS, thread_name_prefix="piaoju-async")
        return _pool


def _forget_pool_after_fork() -> None:
    # A child process has none of its parent's threads: it makes its own pool (and lock).
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


async def _in_thread(work: Callable[[], _T]) -> _T:
    """``work()`` on piaoju's pool. If the awaiting task is cancelled, CancelledError is
    raised at once: a call not started yet never starts, one already running is abandoned
    (it runs on to its own end, by its deadline, and its outcome is discarded)."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), work)


class AsyncClient(_BaseClient):
    """The asyncio client (FastAPI, aiohttp, …): the constructor, :meth:`from_config`,
    :meth:`from_env`, :meth:`with_options`, repr and pickling of :class:`piaoju.Client`, and
    its calls as coroutines::

        client = piaoju.AsyncClient(juhe_key="…")
        receipt = await client.recognize_shopping_receipt("receipt.png")
        async with client.recognize_many(paths, jobs=8) as results:
            async for item in results:
                ...

    Each call runs on a thread of piaoju's own pool (:data:`MAX_CONCURRENT_CALLS` at once for
    the process; asyncio's default executor is left alone), waiting for the network with the
    GIL released, so concurrent calls overlap and the event loop never blocks.

    Cancelling a call (``task.cancel()``, or ``asyncio.wait_for`` giving up) ends the wait at
    once (``CancelledError``, or ``wait_for``'s ``TimeoutError``), but a request already sent
    cannot be taken back: the call is
    abandoned, runs on to its own end within its ``timeout``, and its outcome is discarded —
    **it may have been billed** (with a ``cache``, a successful answer is still recorded, and
    the same image is then answered from it). A call that had not started when it was
    cancelled sends nothing. At exit, Python waits for the abandoned calls still running.
    """

    async def recognize_shopping_receipt(self, image: Image) -> ShoppingReceipt:
        """Recognize a shopping receipt (Juhe)."""
        native = self._native
        return await _in_thread(
            lambda: ShoppingReceipt._from_json(native.recognize_shopping_receipt(_image_arg(image)))
        )

    async def recognize_used_car_invoice(self, image: Image) -> UsedCarInvoice:
        """Recognize a used-car sales invoice (ChinaUMS)."""
        native = self._native
        return await _in_thread(
            lambda: UsedCarInvoice._from_json(native.recognize_used_car_invoice(_image_arg(image)))
        )

    @overload
    def recognize_many(
        self,
        images: Iterable[Image],
        kind: Literal["shopping_receipt", "receipt"] = ...,
        jobs: int = ...,
        qps: Optional[float] = ...,
        on_progress: Optional[Callable[[Progress], None]] = ...,
        retry_failed: bool = ...,
        max_requests: Optional[int] = ...,
        cache: Union[None, bool, str, "os.PathLike[str]"] = ...,
    ) -> "AsyncBatchResults[ShoppingReceipt]": ...

    @overload
    def recognize_many(
        self,
        images: Iterable[Image],
        kind: Literal["used_car_invoice", "invoice"],
        jobs: int = ...,
        qps: Optional[float] = ...,
        on_progress: Optional[Callable[[Progress], None]] = ...,
        retry_failed: bool = ...,
        max_requests: Optional[int] = ...,
        cache: Union[None, bool, str, "os.PathLike[str]"] = ...,
    ) -> "AsyncBatchResults[UsedCarInvoice]": ...

    def recognize_many(
        self,
        images: Iterable[Image],
        kind: str = "shopping_receipt",
        jobs: int = 4,
        qps: Optional[float] = None,
        on_progress: Optional[Callable[[Progress], None]] = None,
        retry_failed: bool = False,
        max_requests: Optional[int] = None,
        cache: Union[None, bool, str, "os.PathLike[str]"] = None,
    ) -> "Union[AsyncBatchResults[ShoppingReceipt], AsyncBatchResults[UsedCarInvoice]]":
        """:meth:`piaoju.Client.recognize_many` for asyncio: the same arguments and items,
        taken with ``async for``. Not a coroutine: it checks its arguments (a bad one raises
        here) and returns an :class:`AsyncBatchResults`; the batch starts at the first item
        asked for. ``on_progress`` runs in the event loop."""
        start, inputs, record = self._batch_plan(images, kind, jobs, qps, retry_failed, max_requests, cache)
        if record is ShoppingReceipt:
            return AsyncBatchResults(start, inputs, ShoppingReceipt, on_progress)
        return AsyncBatchResults(start, inputs, UsedCarInvoice, on_progress)


class _Batch:
    """A native batch started on first use, shared by an :class:`AsyncBatchResults` and the
    pool's thread taking its next item (which holds this, not the results: dropping them
    stops the batch even while an item is being waited for)."""

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start: Optional[Callable[[], Any]] = start
        self._native: Any = None
        self._closed = False
        self._lock = threading.Lock()

    def take(self) -> Optional[Tuple[int, bool, str, str]]:
        """On the pool: start the batch if it is not yet, then wait for its next item (one
        ``take`` at a time)."""
        with self._lock:
            if self._closed:
                start = None
            else:
                start, self._start = self._start, None
        if start is not None:
            native = start()  # may read files and open the cache: never under the lock
            with self._lock:
                self._native, closed = native, self._closed
            if closed:
                native.cancel()
        batch = self._native
        if batch is None:  # closed before it started
            return None
        item: Optional[Tuple[int, bool, str, str]] = batch.next()
        return item

    def cancel(self) -> None:
        with self._lock:
            self._closed = True
            batch = self._native
        if batch is not None:
            batch.cancel()

    def summary(self) -> Optional[str]:
        text: Optional[str] = self._native.summary() if self._native is not None else None
        return text


class AsyncBatchResults(AsyncIterator["BatchItem[R]"], Generic[R]):
    """The items of :meth:`AsyncClient.recognize_many`, as they finish (``async for``).
    Closing it (``await results.aclose()``, the end of an ``async with`` block, or dropping
    it) stops the batch: nothing more is sent but the calls already out. A task cancelled
    while waiting for an item loses nothing: that item is the next one asked for."""

    def __init__(
        self,
        start: Callable[[], Any],
        inputs: List[Any],
        record: "type[R]",
        on_progress: Optional[Callable[[Progress], None]],
    ) -> None:
        self._batch = _Batch(start)
        self._inputs = inputs
        self._record: "type[R]" = record
        self._on_progress = on_progress
        #: The item being taken on the pool (kept when the task waiting for it is cancelled).
        self._pending: "Optional[concurrent.futures.Future[Optional[Tuple[int, bool, str, str]]]]" = None
        self._waiting = False
        #: An item whose on_progress raised: the next call returns it.
        self._held: "Optional[BatchItem[R]]" = None

    def __aiter__(self) -> "AsyncBatchResults[R]":
        return self

    async def __anext__(self) -> "BatchItem[R]":
        if self._held is not None:
            held, self._held = self._held, None
            return held
        if self._waiting:
            raise RuntimeError("another task is already waiting for this batch's next item")
        if self._pending is None or self._pending.cancelled():
            self._pending = _executor().submit(self._batch.take)
        self._waiting = True
        try:
            item = await asyncio.wrap_future(self._pending)
        finally:
            self._waiting = False
        self._pending = None
        if item is None:
            raise StopAsyncIteration
        return _announce(self, *_batch_item(item, self._inputs, self._record))

    async def aclose(self) -> None:
        """Stop the batch: no call starts, none waiting to send sends; calls whose request is
        out end by their deadline (their answers are recorded in the cache)."""
        self._batch.cancel()

    async def __aenter__(self) -> "AsyncBatchResults[R]":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type],
        exc: Optional[BaseException],
        tb: "Optional[TracebackType]",
    ) -> None:
        self._batch.cancel()

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
