//! Batches: many images over one client with N workers, the client's rate limits, retries and
//! cache. Results come back as they finish, with their input's index; errors do not stop the
//! batch unless asked; progress is reported; cancelling lets calls in flight end and reports
//! what was done.
//!
//! Nothing is lost on the way: a panic inside a call is that image's `panic` error (901) and the
//! batch goes on; a worker thread that cannot be started leaves the work to the others (or to
//! the calling thread); an image starts only while fewer than one per worker are in progress or
//! finished and not yet taken, so a consumer that reads slowly, or stops, slows or stops the
//! work instead of filling memory or paying for results nobody takes. Within a batch, an image whose call failed
//! after the provider may have processed it is never sent again for another input with the same
//! bytes: that input gets the same failure.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::boundary::catch_panic;
use crate::call::BatchScope;
use crate::client::Client;
use crate::deadline::{Deadline, CANCEL_CHECK_INTERVAL};
use crate::error::Result;
use crate::image::ImageSource;
use crate::model::{Document, DocumentType};
use crate::outcome::{Outcome, Stop};

/// The most workers a batch runs (more are a mistake: they only open connections).
pub const MAX_WORKERS: usize = 256;

/// One image of a batch.
#[derive(Clone)]
#[non_exhaustive]
pub enum BatchSource {
    /// A file, read when its turn comes.
    Path(PathBuf),
    /// The file's bytes.
    Bytes(Vec<u8>),
    /// The file's bytes, owned elsewhere (a binding's buffer: not copied).
    Shared(Arc<dyn AsRef<[u8]> + Send + Sync>),
}

impl std::fmt::Debug for BatchSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            BatchSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            BatchSource::Shared(b) => {
                write!(f, "Shared({} bytes)", AsRef::<[u8]>::as_ref(&**b).len())
            }
        }
    }
}

impl BatchSource {
    fn image(&self) -> ImageSource<'_> {
        match self {
            BatchSource::Path(p) => ImageSource::from(p.as_path()),
            BatchSource::Bytes(b) => ImageSource::from(b.as_slice()),
            BatchSource::Shared(b) => ImageSource::from(AsRef::<[u8]>::as_ref(&**b)),
        }
    }
}

/// How a batch runs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Calls at once (1 to [`MAX_WORKERS`]).
    pub workers: usize,
    /// Go on after a failed image (the default); otherwise the first failure cancels the rest.
    pub continue_on_error: bool,
    /// Send again the images whose recorded answer (in the cache) is a failure, such as "no
    /// document detected"; by default such an answer is returned again without a request.
    pub retry_failed: bool,
    /// At most this many requests are sent by the batch, retries included (a budget); the
    /// images that would need more are not started.
    pub max_requests: Option<u64>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            workers: 4,
            continue_on_error: true,
            retry_failed: false,
            max_requests: None,
        }
    }
}

impl BatchOptions {
    /// Calls at once, kept within 1 and [`MAX_WORKERS`].
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.clamp(1, MAX_WORKERS);
        self
    }

    /// Go on after a failed image (`true`, the default), or stop at the first failure.
    pub fn continue_on_error(mut self, yes: bool) -> Self {
        self.continue_on_error = yes;
        self
    }

    /// Send again the images whose recorded answer is a failure.
    pub fn retry_failed(mut self, yes: bool) -> Self {
        self.retry_failed = yes;
        self
    }

    /// At most this many requests for the whole batch (`None`: no budget).
    pub fn max_requests(mut self, n: Option<u64>) -> Self {
        self.max_requests = n;
        self
    }
}

/// How often an image refused for the provider's rate goes back into the batch's queue
/// before its refusal is reported as its result.
pub const MAX_REQUEUES: u32 = 8;

/// Where a batch stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Images in the batch.
    pub total: usize,
    /// Finished, successfully or not.
    pub done: usize,
    /// Finished with an error.
    pub failed: usize,
    /// Answered from the result cache.
    pub cached: usize,
    /// Calls in progress now.
    pub in_flight: usize,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSummary {
    /// Images in the batch.
    pub total: usize,
    /// Images recognized.
    pub succeeded: usize,
    /// Images whose call failed.
    pub failed: usize,
    /// Images answered from the result cache (counted in `succeeded`).
    pub cached: usize,
    /// Images never started (the batch was cancelled).
    pub skipped: usize,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests the provider refused for its rate (not processed, so not billed).
    pub refused_requests: u64,
    /// Requests the provider may have billed: those sent and not refused before processing.
    pub possibly_billed_requests: u64,
    /// The batch stopped sending because its budget (`max_requests`) was spent.
    pub budget_spent: bool,
    /// Failed calls whose request the provider may have processed (and billed).
    pub possibly_billed_failures: usize,
    /// How long the batch took.
    pub wall: Duration,
    /// The batch was stopped (cancelled, or its consumer stopped taking results) before every
    /// image was started.
    pub cancelled: bool,
    /// Answers the cache could not record during the batch (a rerun would pay for them again),
    /// counted after waiting for the cache's writes at the end (at most the client's timeout).
    pub cache_failures: u64,
    /// Why, for the last of them.
    pub cache_error: Option<String>,
}

/// Sets the flag when dropped during a panic.
struct CancelOnUnwind<'a>(&'a AtomicBool);

impl Drop for CancelOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// Places for images in progress or finished and not yet taken by the consumer.
struct Places {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Places {
    fn new(n: usize) -> Places {
        Places {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    /// Take a place, waiting for one; `false` once `cancel` is set.
    fn take(&self, cancel: &AtomicBool) -> bool {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if cancel.load(Ordering::SeqCst) {
                return false;
            }
            if *free > 0 {
                *free -= 1;
                return true;
            }
            free = self
                .freed
                .wait_timeout(free, CANCEL_CHECK_INTERVAL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn give(&self) {
        *self.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.freed.notify_one();
    }
}

fn counts(doc: &Document) -> bool {
    match doc {
        Document::ShoppingReceipt(r) => r.cached,
        Document::UsedCarInvoice(i) => i.cached,
    }
}

/// Run `inputs` through `client`: `on_result(index, outcome)` and `on_progress` are called on
/// this thread as calls finish; `on_result` returning `ControlFlow::Break` stops the batch as
/// cancelling does. Setting `cancel` stops sending: no new call starts, and a call still
/// waiting to send (for the rate limit, a place in flight or a retry) sends nothing; an image
/// cancelled before its first request counts as not started (`skipped`), one whose retry was
/// cancelled reports the failure it was retrying. Calls whose request is out end normally,
/// within their deadline, and their outcomes are still delivered.
pub fn run(
    client: &Client,
    inputs: &[(DocumentType, BatchSource)],
    options: BatchOptions,
    cancel: &AtomicBool,
    mut on_result: impl FnMut(usize, Result<Document>) -> ControlFlow<()>,
    mut on_progress: impl FnMut(Progress),
) -> BatchSummary {
    let started = Instant::now();
    let cache_before = client.flush_cache(Duration::ZERO).map(|(r, _)| r.failed);
    let batch = BatchScope::new(cancel, options.retry_failed, options.max_requests);
    let next = AtomicUsize::new(0);
    let in_flight = AtomicUsize::new(0);
    let mut summary = BatchSummary {
        total: inputs.len(),
        ..BatchSummary::default()
    };
    let mut progress = Progress {
        total: inputs.len(),
        ..Progress::default()
    };
    let workers = options
        .workers
        .clamp(1, MAX_WORKERS)
        .min(inputs.len().max(1));
    // An image is started only when fewer than `workers` are in progress or waiting to be
    // taken: a consumer that stops taking results stops the work (at most one image per worker
    // more is sent).
    let places = Places::new(workers);
    // One image after another; `deliver` takes each outcome (false: stop).
    let work = |deliver: &mut dyn FnMut(usize, Result<Document>) -> bool| loop {
        if !places.take(cancel) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        let Some((document_type, source)) = inputs.get(i) else {
            places.give();
            return;
        };
        in_flight.fetch_add(1, Ordering::SeqCst);
        let (mut requeues, mut refused_attempts) = (0, 0);
        let outcome: Outcome<Document> = loop {
            let outcome = catch_panic(|| {
                Ok(client.recognize_in(*document_type, source.image(), Some(&batch)))
            })
            .unwrap_or_else(|panic| Err(Stop::Failed(panic)));
            match &outcome {
                // Refused for the provider's rate: back into the queue (here: this worker
                // takes it again when the provider is ready), neither a failure nor an attempt.
                Err(Stop::Failed(e))
                    if e.refused && requeues < MAX_REQUEUES && !cancel.load(Ordering::SeqCst) =>
                {
                    requeues += 1;
                    refused_attempts += e.attempts;
                    let pause = client.ready_in(*document_type) + Duration::from_millis(10);
                    if !Deadline::sleep_unless(pause, Some(cancel)) {
                        break outcome;
                    }
                }
                _ => break outcome,
            }
        };
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let mut outcome: Result<Document> = match outcome {
            Ok(doc) => Ok(doc),
            Err(Stop::Failed(e)) => Err(e),
            Err(Stop::NotSent(_)) => {
                // Not sent (the batch was cancelled, or its budget is spent): not started, not
                // a result. With a budget spent, the images still to come may be in the cache.
                places.give();
                if cancel.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
        };
        // The image's requests: the refused ones of its earlier turns too.
        match &mut outcome {
            Ok(doc) => doc.add_attempts(refused_attempts),
            Err(e) => e.attempts += refused_attempts,
        }
        if outcome.is_err() && !options.continue_on_error {
            // Before another image is taken by this worker.
            cancel.store(true, Ordering::SeqCst);
        }
        if !deliver(i, outcome) {
            return;
        }
    };
    let mut take = |i: usize, outcome: Result<Document>| {
        progress.done += 1;
        match &outcome {
            Ok(doc) => {
                let cached = counts(doc);
                summary.succeeded += 1;
                if cached {
                    summary.cached += 1;
                    progress.cached += 1;
                }
            }
            Err(e) => {
                summary.failed += 1;
                progress.failed += 1;
                // A failure shared by inputs with the same bytes is one request: counted once.
                summary.possibly_billed_failures +=
                    usize::from(e.possibly_billed && e.attempts > 0);
                if !options.continue_on_error {
                    cancel.store(true, Ordering::SeqCst);
                }
            }
        }
        progress.in_flight = in_flight.load(Ordering::SeqCst);
        if on_result(i, outcome).is_break() {
            cancel.store(true, Ordering::SeqCst);
        }
        on_progress(progress);
        // Taken: another image may start.
        places.give();
    };
    std::thread::scope(|scope| {
        // A consumer that panics (on_result, on_progress) stops the workers, which would
        // otherwise wait for places only it gives back: the panic then goes on to the caller.
        let _stop_on_panic = CancelOnUnwind(cancel);
        // At most one finished result per worker waits: a slow consumer slows the workers.
        let (sender, finished) = mpsc::sync_channel::<(usize, Result<Document>)>(workers);
        let mut running = 0;
        for n in 0..workers {
            let sender = sender.clone();
            let work = &work;
            let spawned = std::thread::Builder::new()
                .name(format!("piaoju-batch-{n}"))
                .spawn_scoped(scope, move || {
                    work(&mut |i, outcome| sender.send((i, outcome)).is_ok())
                });
            // A thread limit: the workers already running do the work.
            if spawned.is_err() {
                break;
            }
            running += 1;
        }
        drop(sender);
        if running == 0 {
            // Not even one thread: the work is done here, one image after another.
            work(&mut |i, outcome| {
                take(i, outcome);
                true
            });
            return;
        }
        for (i, outcome) in finished {
            take(i, outcome);
        }
    });
    summary.skipped = summary.total - summary.succeeded - summary.failed;
    summary.requests = batch.requests.load(Ordering::SeqCst);
    summary.refused_requests = batch.refused.load(Ordering::SeqCst);
    summary.possibly_billed_requests = summary.requests - summary.refused_requests;
    summary.budget_spent = batch.budget_spent.load(Ordering::SeqCst);
    summary.cancelled = cancel.load(Ordering::SeqCst) && summary.skipped > 0;
    if let (Some(before), Some((report, name))) =
        (cache_before, client.flush_cache(client.config().timeout()))
    {
        summary.cache_failures = report.failed - before + report.pending;
        if summary.cache_failures > 0 {
            log::warn!(
                target: crate::LOG_TARGET,
                "{} answers of this batch could not be recorded in the cache {}: a rerun would \
                 pay for them again",
                summary.cache_failures,
                name
            );
            summary.cache_error = report.last_error.or_else(|| {
                Some(
                    "its writes were still waiting at the batch's end (the store busy: another \
                     process's lock on the file, or a slow store)"
                        .to_string(),
                )
            });
        }
    }
    summary.wall = started.elapsed();
    summary
}
