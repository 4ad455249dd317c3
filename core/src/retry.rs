//! Retries that never pay twice. A request is sent again automatically only when the provider
//! cannot have processed (and billed) it: the connection was never made, or the provider said
//! to come back (HTTP 429, HTTP 503, Juhe's IP rate limit). Full-jitter exponential backoff
//! (a random delay in [0, min(max, base·2ⁿ)]), at least the answer's `Retry-After` (up to the
//! maximum), all inside the call's deadline, and a per-client retry budget (a token bucket) so
//! that a failing service is not hammered.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::Deserialize;

use crate::deadline::Deadline;
use crate::error::{Error, ErrorCode, Provider};
use crate::outcome::{Outcome, Stop};
use crate::LOG_TARGET;

/// The retry settings (`retry` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Requests a call may make in all; 1 turns retries off.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first retry waits a random time up to this (milliseconds; default 500); each
    /// further one up to twice as long as the one before.
    #[serde(default = "default_base")]
    pub base_delay_ms: u64,
    /// No wait between retries is longer than this (milliseconds; default 20 000), a
    /// `Retry-After` included.
    #[serde(default = "default_max")]
    pub max_delay_ms: u64,
}

fn default_attempts() -> u32 {
    3
}
fn default_base() -> u64 {
    500
}
fn default_max() -> u64 {
    20_000
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: default_attempts(),
            base_delay_ms: default_base(),
            max_delay_ms: default_max(),
        }
    }
}

/// The most attempts a call may make.
pub const MAX_ATTEMPTS: u32 = 10;

/// Tokens in a client's retry budget; a retry costs [`RETRY_COST`], a call that succeeds at
/// once gives one back.
const BUDGET: u32 = 100;
const RETRY_COST: u32 = 5;

/// Whether a failed request can be sent again without the risk of paying twice.
pub(crate) fn safe_to_retry(e: &Error) -> bool {
    if e.possibly_billed {
        return false;
    }
    match e.code {
        ErrorCode::ConnectFailed | ErrorCode::Timeout => true,
        ErrorCode::RateLimited | ErrorCode::IpRateLimited => true,
        ErrorCode::ServiceHttpError => e.http_status == Some(503),
        _ => false,
    }
}

/// A client's retry policy and budget.
#[derive(Debug)]
pub(crate) struct Retrier {
    config: RetryConfig,
    budget: AtomicU32,
}

fn random_below(limit_ms: u64) -> u64 {
    let mut b = [0u8; 8];
    if limit_ms == 0 || getrandom::fill(&mut b).is_err() {
        return limit_ms / 2;
    }
    u64::from_le_bytes(b) % (limit_ms + 1)
}

impl Retrier {
    pub fn new(config: RetryConfig) -> Retrier {
        Retrier {
            config,
            budget: AtomicU32::new(BUDGET),
        }
    }

    fn take_budget(&self) -> bool {
        self.budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                b.checked_sub(RETRY_COST)
            })
            .is_ok()
    }

    fn refund(&self) {
        let _ = self
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b < BUDGET).then_some(b + 1)
            });
    }

    /// The delay before attempt `n + 1` (n ≥ 1 attempts made), full jitter, at least
    /// `retry_after`, at most the maximum.
    fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .config
            .base_delay_ms
            .saturating_mul(1u64 << (n - 1).min(20))
            .min(self.config.max_delay_ms);
        let jitter = Duration::from_millis(random_below(ceiling));
        let wanted = retry_after.map_or(jitter, |r| r.max(jitter));
        wanted.min(Duration::from_millis(self.config.max_delay_ms))
    }

    /// Run `attempt` (one request and the reading of its answer) until it succeeds, fails in a
    /// way that must not be retried, runs out of attempts or budget, or the next delay would
    /// pass the deadline. Returns the value and the number of attempts; errors carry it too.
    /// An attempt that sent nothing for its batch's reason (cancelled, out of budget) ends the
    /// run: with the earlier attempt's failure, if there was one.
    pub fn run<T>(
        &self,
        deadline: &Deadline,
        provider: Provider,
        cancel: Option<&std::sync::atomic::AtomicBool>,
        requeue_refusals: bool,
        mut attempt: impl FnMut() -> Outcome<T>,
    ) -> Outcome<(T, u32)> {
        let mut n = 0;
        let mut previous: Option<Error> = None;
        loop {
            n += 1;
            let e = match attempt() {
                Ok(v) => {
                    if n == 1 {
                        self.refund();
                    }
                    return Ok((v, n));
                }
                Err(Stop::Failed(e)) => e,
                Err(Stop::NotSent(why)) => {
                    // Nothing was sent this time: the earlier attempt's failure stands, if any.
                    return Err(match previous {
                        Some(mut last) => {
                            last.message.push_str(&format!(" (not retried: {why})"));
                            Stop::Failed(last)
                        }
                        None => Stop::NotSent(why),
                    });
                }
            };
            if e.refused && e.code == ErrorCode::Timeout {
                // A rate limit (max_qps, or the provider's as learned) would not let it go
                // before the deadline: nothing was sent, and waiting again cannot help. The
                // failure that made it wait stands, if this call had one.
                return Err(match previous {
                    Some(mut last) => {
                        last.message.push_str(
                            " (not sent again: the rate limit would not let it go before the \
                             deadline)",
                        );
                        last
                    }
                    None => e,
                }
                .into());
            }
            let mut e = Error { attempts: n, ..e };
            let label = provider.label();
            if e.refused && requeue_refusals {
                // A batch sends it again when the provider is ready (not an attempt).
                log::debug!(target: LOG_TARGET, "{label}: {e}: back into the batch's queue");
                return Err(e.into());
            }
            if !safe_to_retry(&e) {
                if e.possibly_billed && e.retryable() {
                    log::debug!(
                        target: LOG_TARGET,
                        "{label}: {e}: not retried (the provider may have processed it)"
                    );
                }
                return Err(e.into());
            }
            if n >= self.config.max_attempts {
                log::debug!(
                    target: LOG_TARGET,
                    "{label}: {e}: not retried (all {n} attempts made)"
                );
                return Err(e.into());
            }
            let delay = self.delay(n, e.retry_after());
            let left = match deadline.remaining(provider, "retrying") {
                Ok(left) => left,
                Err(_) => return Err(e.into()),
            };
            if delay >= left || !self.take_budget() {
                let why = if delay >= left {
                    format!("the deadline is {left:?} away")
                } else {
                    "the client's retry budget is spent".to_string()
                };
                log::debug!(target: LOG_TARGET, "{label}: {e}: not retried ({why})");
                if delay >= left {
                    e.message.push_str(&format!(" (not retried: {why})"));
                }
                return Err(e.into());
            }
            log::info!(
                target: LOG_TARGET,
                "{label}: {e}: retrying in {:.2} s (attempt {} of {})",
                delay.as_secs_f64(),
                n + 1,
                self.config.max_attempts
            );
            if !Deadline::sleep_unless(delay, cancel) {
                // The batch was cancelled: this failure stands, nothing more is sent.
                e.message
                    .push_str(" (not retried: the batch was cancelled)");
                return Err(e.into());
            }
            previous = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail<T>(e: Error) -> Outcome<T> {
        Err(Stop::Failed(e))
    }

    fn err(code: ErrorCode, status: Option<u16>, billed: bool) -> Error {
        let mut e = Error::new(code, "x");
        e.http_status = status;
        if billed {
            e.possibly_billed()
        } else {
            e
        }
    }

    #[test]
    fn only_what_cannot_have_been_processed_is_retried() {
        assert!(safe_to_retry(&err(ErrorCode::ConnectFailed, None, false)));
        assert!(safe_to_retry(&err(
            ErrorCode::RateLimited,
            Some(429),
            false
        )));
        assert!(safe_to_retry(&err(
            ErrorCode::IpRateLimited,
            Some(200),
            false
        )));
        assert!(safe_to_retry(&err(
            ErrorCode::ServiceHttpError,
            Some(503),
            false
        )));
        assert!(!safe_to_retry(&err(
            ErrorCode::ServiceHttpError,
            Some(500),
            true
        )));
        assert!(!safe_to_retry(&err(ErrorCode::Timeout, None, true)));
        assert!(!safe_to_retry(&err(
            ErrorCode::ConnectionBroken,
            None,
            true
        )));
        assert!(!safe_to_retry(&err(
            ErrorCode::MalformedResponse,
            Some(200),
            true
        )));
        assert!(!safe_to_retry(&err(
            ErrorCode::QuotaExceeded,
            Some(200),
            false
        )));
    }

    #[test]
    fn delays_are_full_jitter_within_the_cap_and_honour_retry_after() {
        let r = Retrier::new(RetryConfig {
            max_attempts: 5,
            base_delay_ms: 100,
            max_delay_ms: 1000,
        });
        for n in 1..8 {
            let ceiling = (100u64 << (n - 1)).min(1000);
            for _ in 0..50 {
                assert!(r.delay(n, None) <= Duration::from_millis(ceiling));
            }
        }
        assert!(r.delay(1, Some(Duration::from_millis(700))) >= Duration::from_millis(700));
        assert_eq!(
            r.delay(1, Some(Duration::from_secs(60))),
            Duration::from_millis(1000)
        );
    }

    #[test]
    fn attempts_budget_and_deadline() {
        let r = Retrier::new(RetryConfig {
            max_attempts: 3,
            base_delay_ms: 1,
            max_delay_ms: 5,
        });
        let deadline = Deadline::after(Duration::from_secs(10));
        // Two refusals, then success: three attempts.
        let mut calls = 0;
        let (v, n) = r
            .run(&deadline, Provider::Juhe, None, false, || {
                calls += 1;
                if calls < 3 {
                    fail(err(ErrorCode::RateLimited, Some(429), false))
                } else {
                    Ok(calls)
                }
            })
            .unwrap();
        assert_eq!((v, n), (3, 3));
        // Never retried: a possibly billed failure.
        let e = r
            .run(&deadline, Provider::Juhe, None, false, || -> Outcome<()> {
                fail(err(ErrorCode::ConnectionBroken, None, true))
            })
            .unwrap_err()
            .failed();
        assert_eq!((e.attempts, e.possibly_billed), (1, true));
        // Out of attempts.
        let e = r
            .run(&deadline, Provider::Juhe, None, false, || -> Outcome<()> {
                fail(err(ErrorCode::ConnectFailed, None, false))
            })
            .unwrap_err()
            .failed();
        assert_eq!(e.attempts, 3);
        // A delay that would pass the deadline is not waited for.
        let slow = Retrier::new(RetryConfig {
            max_attempts: 5,
            base_delay_ms: 1,
            max_delay_ms: 60_000,
        });
        let short = Deadline::after(Duration::from_millis(200));
        let mut e = err(ErrorCode::RateLimited, Some(429), false);
        e.details = Some(Box::new(crate::error::Details {
            retry_after: Some(Duration::from_secs(30)),
            ..Default::default()
        }));
        let started = std::time::Instant::now();
        let got = slow
            .run(&short, Provider::Juhe, None, false, || -> Outcome<()> {
                fail(e.clone())
            })
            .unwrap_err()
            .failed();
        assert_eq!(got.attempts, 1);
        assert!(started.elapsed() < Duration::from_millis(150));
        // The budget: 100 tokens, 5 a retry: after 20 retries, none.
        let tight = Retrier::new(RetryConfig {
            max_attempts: 10,
            base_delay_ms: 0,
            max_delay_ms: 0,
        });
        let mut retries = 0;
        for _ in 0..30 {
            let e = tight
                .run(&deadline, Provider::Juhe, None, false, || -> Outcome<()> {
                    fail(err(ErrorCode::ConnectFailed, None, false))
                })
                .unwrap_err()
                .failed();
            retries += e.attempts - 1;
        }
        assert_eq!(retries, 20);
    }

    #[test]
    fn cancelling_ends_a_retry_wait_and_keeps_the_failure() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let r = Retrier::new(RetryConfig {
            max_attempts: 5,
            base_delay_ms: 5_000,
            max_delay_ms: 5_000,
        });
        let deadline = Deadline::after(Duration::from_secs(60));
        let cancel = AtomicBool::new(false);
        let started = std::time::Instant::now();
        let got = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                cancel.store(true, Ordering::SeqCst);
            });
            // The delay is random in [0, 5 s]: refuse until cancelled, then count the calls.
            let mut calls = 0;
            let e = r
                .run(
                    &deadline,
                    Provider::Juhe,
                    Some(&cancel),
                    false,
                    || -> Outcome<()> {
                        calls += 1;
                        fail(err(ErrorCode::RateLimited, Some(429), false))
                    },
                )
                .unwrap_err()
                .failed();
            (e, calls)
        });
        let (e, calls) = got;
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(e.attempts, calls);
        assert!(
            e.message
                .ends_with("(not retried: the batch was cancelled)"),
            "{e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // An attempt that was cancelled before sending leaves the earlier failure standing.
        let mut calls = 0;
        let e = Retrier::new(RetryConfig {
            max_attempts: 3,
            base_delay_ms: 0,
            max_delay_ms: 0,
        })
        .run(&deadline, Provider::Juhe, None, false, || -> Outcome<()> {
            calls += 1;
            if calls == 1 {
                fail(err(ErrorCode::ConnectFailed, None, false))
            } else {
                Err(Stop::NotSent(crate::outcome::NotSent::Cancelled))
            }
        })
        .unwrap_err()
        .failed();
        assert_eq!((e.code, e.attempts), (ErrorCode::ConnectFailed, 1));
    }
}
