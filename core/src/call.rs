//! One call to a provider, the same pipeline for every provider: the batch's shared failures,
//! the result cache (and one flight per image), the retries, the rate limits, and the counting
//! of the requests actually sent. A provider brings its credentials, preflight, request and
//! answer parsing; everything that decides whether a request is sent (and paid for) is here.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::cache::{self, Answer, Cache, Flights};
use crate::deadline::Deadline;
use crate::error::{Error, Provider, Result};
use crate::fit::{self, ImageDescription, ImageFit, ImageReport, Limits};
use crate::http::Http;
use crate::image::{ImageInfo, ImageSource};
use crate::limit::Limiter;
use crate::model::DocumentType;
use crate::outcome::{NotSent, Outcome, Stop};
use crate::retry::Retrier;
use crate::wire::{self, HttpAnswer};
use crate::LOG_TARGET;

/// What one call works with, handed over by the client.
pub(crate) struct Call<'a> {
    pub http: &'a Http,
    pub retrier: &'a Retrier,
    pub cache: Option<&'a Cache>,
    pub deadline: Deadline,
    /// The batch the call belongs to, if any.
    pub batch: Option<&'a BatchScope<'a>>,
}

/// What the calls of one batch share: its cancel flag, the failures that may have been billed
/// (never sent again for a duplicate of the same image), and, without a cache, the flights
/// that keep duplicates of an image from being sent at the same time.
pub(crate) struct BatchScope<'a> {
    pub cancel: &'a AtomicBool,
    /// Send again the images whose recorded answer was a failure (a rerun's `--retry-failed`).
    pub retry_failed: bool,
    failures: Mutex<HashMap<String, Error>>,
    flights: Flights,
    /// Requests the batch may still send (its budget), if it has one.
    budget: Option<AtomicU64>,
    /// Requests sent, and those the provider refused for its rate (not processed).
    pub requests: AtomicU64,
    pub refused: AtomicU64,
    /// A request was refused because the budget was spent.
    pub budget_spent: AtomicBool,
}

impl<'a> BatchScope<'a> {
    pub fn new(
        cancel: &'a AtomicBool,
        retry_failed: bool,
        max_requests: Option<u64>,
    ) -> BatchScope<'a> {
        BatchScope {
            cancel,
            retry_failed,
            failures: Mutex::new(HashMap::new()),
            flights: Flights::default(),
            budget: max_requests.map(AtomicU64::new),
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            budget_spent: AtomicBool::new(false),
        }
    }

    /// Take one request from the budget: [`NotSent::BudgetSpent`] when it is spent.
    fn take_request(&self) -> Outcome<()> {
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        if budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
        {
            self.budget_spent.store(true, Ordering::SeqCst);
            return Err(Stop::NotSent(NotSent::BudgetSpent));
        }
        Ok(())
    }

    /// A request was made: counted if it was sent, its budget given back if it was not.
    fn sent(&self, sent: bool) {
        if sent {
            self.requests.fetch_add(1, Ordering::SeqCst);
        } else if let Some(budget) = &self.budget {
            budget.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The possibly-billed failure of an earlier call of this batch for the same image.
    fn failure(&self, key: &str) -> Option<Error> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(key).map(|e| {
            let mut shared = e.clone();
            shared.attempts = 0;
            shared.message.push_str(
                " (the same image as another input of this batch, whose request may have been \
                 billed: not sent again)",
            );
            shared
        })
    }

    fn record_failure(&self, key: &str, e: &Error) {
        if e.possibly_billed {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            failures.entry(key.to_string()).or_insert_with(|| e.clone());
        }
    }
}

/// One recognition for the pipeline: which provider and operation, the exact image bytes
/// sent, how to send one request and how to read an answer.
pub(crate) struct Recognition<'r, T> {
    pub provider: Provider,
    pub operation: DocumentType,
    /// The endpoint (part of the cache key).
    pub endpoint: &'r str,
    /// The bytes sent (after fitting): the cache key.
    pub image: &'r [u8],
    pub limiter: &'r Limiter,
    pub parse: fn(&HttpAnswer) -> Result<T>,
    /// One attempt: send the request (each HTTP request through [`Sender::post`]) and return
    /// the answer to parse.
    pub send: &'r dyn Fn(&Sender<'_>) -> Outcome<HttpAnswer>,
}

/// What a call gave: the value, whether it came from the cache, the requests sent, and why
/// the answer could not be recorded in the cache, if it could not.
pub(crate) struct Recognized<T> {
    pub value: T,
    pub cached: bool,
    pub attempts: u32,
    pub cache_error: Option<String>,
}

impl<T: Stamped> Recognized<T> {
    /// The result, saying how it was obtained: what was done to the image, the requests sent,
    /// whether it came from the cache and whether it could be recorded there.
    pub fn into_result(self, image: ImageReport) -> T {
        let mut value = self.value;
        value.stamp(image, self.attempts, self.cached, self.cache_error);
        value
    }
}

/// A result that says how it was obtained.
pub(crate) trait Stamped {
    fn stamp(
        &mut self,
        image: ImageReport,
        attempts: u32,
        cached: bool,
        cache_error: Option<String>,
    );
}

/// Sends a provider's HTTP requests within the call: the rate limits, the cancel flag and
/// the count of requests sent.
pub(crate) struct Sender<'c> {
    call: &'c Call<'c>,
    provider: Provider,
    limiter: &'c Limiter,
    sent: Cell<u32>,
}

impl Sender<'_> {
    /// The call's deadline.
    pub fn deadline(&self) -> &Deadline {
        &self.call.deadline
    }

    /// The shared agent (for requests that are not OCR requests, such as a token fetch).
    pub fn http(&self) -> &Http {
        self.call.http
    }

    /// Send one OCR request: wait for the rate limits (giving up if the batch is cancelled),
    /// then post. Counts as an attempt unless nothing was sent (the connection was never made).
    pub fn post(
        &self,
        url: &str,
        content_type: &str,
        authorization: Option<&str>,
        body: crate::body::ImageBody<'_>,
    ) -> Outcome<HttpAnswer> {
        let call = self.call;
        // The budget first: a batch whose budget is spent does not wait for a rate turn just
        // to learn that it sends nothing.
        if let Some(b) = call.batch {
            b.take_request()?;
        }
        let _permit = match self.limiter.acquire(&call.deadline, call.cancel()) {
            Ok(permit) => permit,
            Err(e) => {
                if let Some(b) = call.batch {
                    b.sent(false);
                }
                return Err(e);
            }
        };
        let answer = call.http.post_stream(
            &call.deadline,
            self.provider,
            url,
            content_type,
            authorization,
            body,
        );
        // An error that is not possibly billed was raised before anything was sent.
        let sent = answer.as_ref().map_or_else(|e| e.possibly_billed, |_| true);
        if sent {
            self.sent.set(self.sent.get() + 1);
        }
        if let Some(b) = call.batch {
            b.sent(sent);
        }
        Ok(answer?)
    }
}

/// An image as a log record shows it: `png 5000x3000 px, 12345678 bytes`.
fn shown(d: &ImageDescription) -> String {
    match (d.width, d.height) {
        (Some(w), Some(h)) => format!("{} {w}x{h} px, {} bytes", d.format, d.bytes),
        _ => format!("{}, {} bytes", d.format, d.bytes),
    }
}

impl Call<'_> {
    /// The image a provider is sent: read, checked against the provider's formats
    /// (`preflight`), then sent as given when within the provider's limits, fitted to them, or
    /// refused (see [`fit::prepare`]); the decision is logged.
    pub fn image<'i>(
        &self,
        provider: Provider,
        image: ImageSource<'i>,
        preflight: fn(&[u8]) -> Result<ImageInfo>,
        limits: &Limits,
        fit: ImageFit,
    ) -> Result<(Cow<'i, [u8]>, ImageReport)> {
        let bytes = image.load()?;
        let info = preflight(&bytes)?;
        let label = provider.label();
        let prepared = fit::prepare(bytes, info, limits, fit, provider, Some(&self.deadline));
        match &prepared {
            Ok((_, r)) if r.fitted => log::info!(
                target: LOG_TARGET,
                "{label}: the image ({}) is over the provider's limits: fitted to {} (JPEG \
                 quality {})",
                shown(&r.original),
                shown(&r.sent),
                r.quality.unwrap_or_default()
            ),
            Ok((_, r)) => log::debug!(
                target: LOG_TARGET,
                "{label}: the image ({}) is within the provider's limits: sent as given",
                shown(&r.original)
            ),
            Err(e) => log::debug!(target: LOG_TARGET, "{label}: the image is refused: {e}"),
        }
        prepared
    }

    /// The batch's cancel flag, if the call belongs to a batch.
    pub fn cancel(&self) -> Option<&AtomicBool> {
        self.batch.map(|b| b.cancel)
    }

    /// Run a recognition through the pipeline: a possibly-billed failure of the same image in
    /// this batch is returned as it is; a recorded answer is parsed again (a recorded failure
    /// too, unless the batch retries failures); otherwise one flight per image sends it, with
    /// the retries and rate limits, and its answer is recorded.
    pub fn recognize<T>(&self, r: Recognition<'_, T>) -> Outcome<Recognized<T>> {
        let key = cache::key(r.provider, r.operation, r.endpoint, r.image);
        let sender = Sender {
            call: self,
            provider: r.provider,
            limiter: r.limiter,
            sent: Cell::new(0),
        };
        let what = format!("{} {}", r.provider.label(), r.operation.as_str());
        let outcome = self.through(&key, &what, r.provider, r.parse, || {
            self.retrier
                .run(
                    &self.deadline,
                    r.provider,
                    self.cancel(),
                    self.batch.is_some(),
                    || {
                        let parsed = wire::parsed((r.send)(&sender)?, r.parse);
                        match &parsed {
                            Ok(_) => r.limiter.succeeded(),
                            Err(e) if e.refused => {
                                r.limiter.refused(e.retry_after());
                                if let Some(b) = self.batch {
                                    b.refused.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                            Err(_) => {}
                        }
                        Ok(parsed?)
                    },
                )
                .map(|(sent, _)| sent)
        });
        let attempts = sender.sent.get();
        match outcome {
            Ok((value, cached, cache_error)) => Ok(Recognized {
                value,
                cached,
                attempts,
                cache_error,
            }),
            Err(Stop::Failed(e)) => Err(Stop::Failed(Error { attempts, ..e })),
            Err(not_sent) => Err(not_sent),
        }
    }

    /// The cache and flight part of [`Call::recognize`]: `(value, cached, cache_error)`.
    /// `what` names the provider and operation in log records.
    fn through<T>(
        &self,
        key: &str,
        what: &str,
        provider: Provider,
        parse: fn(&HttpAnswer) -> Result<T>,
        fetch: impl FnOnce() -> Outcome<(T, Vec<u8>)>,
    ) -> Outcome<(T, bool, Option<String>)> {
        let retry_failed = self.batch.is_some_and(|b| b.retry_failed);
        let recorded = || -> Result<Option<T>> {
            if let Some(e) = self.batch.and_then(|b| b.failure(key)) {
                log::debug!(
                    target: LOG_TARGET,
                    "{what}: the same image failed earlier in this batch after it may have \
                     been billed ({}): not sent again",
                    e.name()
                );
                return Err(e);
            }
            let Some(c) = self.cache else {
                return Ok(None);
            };
            let found = c.recorded(key, &self.deadline, parse, retry_failed);
            match &found {
                Ok(Some(_)) => log::debug!(
                    target: LOG_TARGET,
                    "{what}: answered from the cache {}: nothing sent",
                    c.name()
                ),
                Err(e) => log::debug!(
                    target: LOG_TARGET,
                    "{what}: the provider's verdict on this image ({}) is recorded in the cache \
                     {}: nothing sent",
                    e.name(),
                    c.name()
                ),
                Ok(None) => {}
            }
            found
        };
        if let Some(value) = recorded()? {
            return Ok((value, true, None));
        }
        // One flight per image: the cache's (across the process) or, without one, the batch's.
        let flights = match (self.cache, self.batch) {
            (Some(c), _) => Some(c.flights()),
            (None, Some(b)) => Some(&b.flights),
            (None, None) => None,
        };
        let _claim = match flights {
            Some(f) => {
                let claim = f.claim(key, &self.deadline, provider)?;
                // Look again, waited or not: another call may have recorded its answer (or a
                // possibly-billed failure) after the first look and released the image
                // before this claim.
                if let Some(value) = recorded()? {
                    return Ok((value, true, None));
                }
                Some(claim)
            }
            None => None,
        };
        if let Some(c) = self.cache {
            log::debug!(
                target: LOG_TARGET,
                "{what}: no answer to take from the cache {}: sending",
                c.name()
            );
        }
        let record = |c: &Cache, answer: Answer| {
            let failed = c.record(key, answer, &self.deadline);
            if let Some(why) = &failed {
                log::warn!(target: LOG_TARGET, "{what}: {why}: a rerun would pay for it again");
            }
            failed
        };
        match fetch() {
            Ok((value, answer)) => {
                let cache_error = self.cache.and_then(|c| record(c, Answer::Success(answer)));
                Ok((value, false, cache_error))
            }
            Err(Stop::Failed(mut e)) => {
                if let Some(b) = self.batch {
                    b.record_failure(key, &e);
                }
                // A verdict on the image itself (no document in it, …): the answer is kept so
                // that a rerun does not pay for it again.
                if let (Some(c), Some(answer)) = (self.cache, e.take_verdict()) {
                    record(c, Answer::Verdict(answer));
                }
                Err(Stop::Failed(e))
            }
            Err(not_sent) => Err(not_sent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::ResultStore;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A store whose reads are slow and see the data as it was when they began (as a SQLite
    /// read transaction does).
    #[derive(Default)]
    struct SnapshotStore(Mutex<HashMap<String, Vec<u8>>>);

    impl ResultStore for SnapshotStore {
        fn get(&self, key: &str, _wait: Duration) -> Result<Option<Vec<u8>>> {
            let seen = self.0.lock().unwrap().get(key).cloned();
            std::thread::sleep(Duration::from_millis(300));
            Ok(seen)
        }
        fn put(&self, key: &str, answer: &[u8], _wait: Duration) -> Result<()> {
            self.0
                .lock()
                .unwrap()
                .entry(key.into())
                .or_insert(answer.to_vec());
            Ok(())
        }
    }

    fn parse(a: &HttpAnswer) -> Result<String> {
        Ok(String::from_utf8_lossy(&a.body).into_owned())
    }

    #[test]
    fn an_answer_recorded_between_the_first_look_and_the_claim_is_not_paid_for_again() {
        let config = crate::config::Config::default();
        let http = Http::new(&config).unwrap();
        let retrier = Retrier::new(Default::default());
        let cache = Cache::new(Arc::new(SnapshotStore::default()), "test".into());
        let sends = AtomicU32::new(0);
        let call = || Call {
            http: &http,
            retrier: &retrier,
            cache: Some(&cache),
            deadline: Deadline::after(Duration::from_secs(10)),
            batch: None,
        };
        let key = "same-image";
        std::thread::scope(|s| {
            // B: misses (its read 0-300 ms), claims, sends for 100 ms, records, releases.
            s.spawn(|| {
                call()
                    .through(key, "Juhe shopping_receipt", Provider::Juhe, parse, || {
                        sends.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        Ok(("answer".to_string(), b"answer".to_vec()))
                    })
                    .unwrap()
            });
            // A: its read (250-550 ms) began before B's answer; it claims after B released,
            // without waiting: it must look again before sending.
            std::thread::sleep(Duration::from_millis(250));
            let (value, cached, _) = call()
                .through(key, "Juhe shopping_receipt", Provider::Juhe, parse, || {
                    sends.fetch_add(1, Ordering::SeqCst);
                    Ok(("answer".to_string(), b"answer".to_vec()))
                })
                .unwrap();
            assert_eq!((value.as_str(), cached), ("answer", true));
        });
        assert_eq!(
            sends.load(Ordering::SeqCst),
            1,
            "the same image was sent twice"
        );
    }

    /// A store that cannot be read (a network store down, a broken file) but can be written.
    #[derive(Default)]
    struct UnreadableStore(AtomicU32);

    impl ResultStore for UnreadableStore {
        fn get(&self, _key: &str, _wait: Duration) -> Result<Option<Vec<u8>>> {
            Err(crate::Error::new(
                crate::ErrorCode::Internal,
                "the store is down".to_string(),
            ))
        }
        fn put(&self, _key: &str, _answer: &[u8], _wait: Duration) -> Result<()> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn a_store_that_cannot_be_read_sends_the_image_and_records_its_answer() {
        let config = crate::config::Config::default();
        let http = Http::new(&config).unwrap();
        let retrier = Retrier::new(Default::default());
        let store = Arc::new(UnreadableStore::default());
        let cache = Cache::new(store.clone(), "test".into());
        let call = Call {
            http: &http,
            retrier: &retrier,
            cache: Some(&cache),
            deadline: Deadline::after(Duration::from_secs(10)),
            batch: None,
        };
        let mut sends = 0;
        let (value, cached, cache_error) = call
            .through(
                "image",
                "Juhe shopping_receipt",
                Provider::Juhe,
                parse,
                || {
                    sends += 1;
                    Ok(("answer".to_string(), b"answer".to_vec()))
                },
            )
            .unwrap();
        assert_eq!(
            (value.as_str(), cached, cache_error, sends),
            ("answer", false, None, 1)
        );
        assert_eq!(cache.flush(Duration::from_secs(5)).failed, 0);
        assert_eq!(
            store.0.load(Ordering::SeqCst),
            1,
            "the answer was not recorded"
        );
    }
}
