//! Batches: many images over one client with N workers, the client's rate limits, retries and
//! cache. Results come back as they finish, with their input's index; errors do not stop the
//! batch unless asked; progress is reported; cancelling lets calls in flight end and reports
//! what was done.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::image::ImageSource;
use crate::model::{Document, DocumentType};
use crate::Client;

/// One image of a batch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BatchSource {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

/// How a batch runs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Calls at once (at least 1).
    pub workers: usize,
    /// Go on after a failed image (the default); otherwise the first failure cancels the rest.
    pub continue_on_error: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            workers: 4,
            continue_on_error: true,
        }
    }
}

impl BatchOptions {
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    pub fn continue_on_error(mut self, yes: bool) -> Self {
        self.continue_on_error = yes;
        self
    }
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    pub total: usize,
    /// Finished, successfully or not.
    pub done: usize,
    pub failed: usize,
    /// Answered from the result cache.
    pub cached: usize,
    pub in_flight: usize,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSummary {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cached: usize,
    /// Images never started (the batch was cancelled).
    pub skipped: usize,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Failed calls whose request the provider may have processed (and billed).
    pub possibly_billed_failures: usize,
    pub wall: Duration,
    pub cancelled: bool,
}

fn counts(doc: &Document) -> (u32, bool) {
    match doc {
        Document::ShoppingReceipt(r) => (r.attempts, r.cached),
        Document::UsedCarInvoice(i) => (i.attempts, i.cached),
    }
}

/// Run `inputs` through `client`: `on_result(index, outcome)` and `on_progress` are called on
/// this thread as calls finish. Setting `cancel` stops sending: no new call starts, and a call
/// still waiting to send (for the rate limit, a place in flight or a retry) sends nothing; an
/// image cancelled before its first request counts as not started (`skipped`), one whose
/// retry was cancelled reports the failure it was retrying. Calls whose request is out end
/// normally, within their deadline.
pub fn run(
    client: &Client,
    inputs: &[(DocumentType, BatchSource)],
    options: BatchOptions,
    cancel: &AtomicBool,
    mut on_result: impl FnMut(usize, Result<Document>),
    mut on_progress: impl FnMut(Progress),
) -> BatchSummary {
    let started = Instant::now();
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
    let (sender, finished) = mpsc::channel::<(usize, Result<Document>)>();
    std::thread::scope(|scope| {
        for _ in 0..options.workers.max(1).min(inputs.len().max(1)) {
            let sender = sender.clone();
            let (next, in_flight) = (&next, &in_flight);
            scope.spawn(move || loop {
                if cancel.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((document_type, source)) = inputs.get(i) else {
                    return;
                };
                in_flight.fetch_add(1, Ordering::SeqCst);
                let image = match source {
                    BatchSource::Path(p) => ImageSource::from(p.as_path()),
                    BatchSource::Bytes(b) => ImageSource::from(b.as_slice()),
                };
                let outcome = client.recognize_unless(*document_type, image, Some(cancel));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                if matches!(&outcome, Err(e) if e.cancelled) {
                    // Cancelled before its request was sent: not started, not a result.
                    return;
                }
                if outcome.is_err() && !options.continue_on_error {
                    // Before another image is taken by this worker.
                    cancel.store(true, Ordering::SeqCst);
                }
                if sender.send((i, outcome)).is_err() {
                    return;
                }
            });
        }
        drop(sender);
        for (i, outcome) in finished {
            progress.done += 1;
            match &outcome {
                Ok(doc) => {
                    let (attempts, cached) = counts(doc);
                    summary.succeeded += 1;
                    summary.requests += u64::from(attempts);
                    if cached {
                        summary.cached += 1;
                        progress.cached += 1;
                    }
                }
                Err(e) => {
                    summary.failed += 1;
                    progress.failed += 1;
                    summary.requests += u64::from(e.attempts);
                    summary.possibly_billed_failures += usize::from(e.possibly_billed);
                    if !options.continue_on_error {
                        cancel.store(true, Ordering::SeqCst);
                    }
                }
            }
            progress.in_flight = in_flight.load(Ordering::SeqCst);
            on_result(i, outcome);
            on_progress(progress);
        }
    });
    summary.skipped = summary.total - summary.succeeded - summary.failed;
    summary.cancelled = cancel.load(Ordering::SeqCst) && summary.skipped > 0;
    summary.wall = started.elapsed();
    summary
}
