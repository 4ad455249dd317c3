//! The deadline of one call: `timeout_ms` bounds the whole call (token fetch, refresh, every
//! request, reading the answers), not each exchange.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode, Provider, Result};

/// How often a wait looks at its cancel flag.
pub(crate) const CANCEL_CHECK_INTERVAL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            // Timeouts are at most a day (config validation), so this cannot overflow.
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// The time left, or a `timeout` error once there is none.
    pub fn remaining(&self, provider: Provider, doing: &str) -> Result<Duration> {
        match self.at.checked_duration_since(Instant::now()) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(self.expired(provider, doing)),
        }
    }

    /// The whole deadline (the call's `timeout_ms`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The time left (zero once there is none).
    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Sleep `d`, in slices, unless `cancel` is (or becomes) set: `false` when cancelled.
    pub fn sleep_unless(d: Duration, cancel: Option<&AtomicBool>) -> bool {
        let Some(cancel) = cancel else {
            std::thread::sleep(d);
            return true;
        };
        let until = Instant::now() + d;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(CANCEL_CHECK_INTERVAL));
        }
    }

    pub fn expired(&self, provider: Provider, doing: &str) -> Error {
        Error::new(
            ErrorCode::Timeout,
            format!(
                "{} call did not complete within its deadline of {} ms ({doing})",
                provider.label(),
                self.timeout.as_millis()
            ),
        )
        .with_provider(provider)
    }
}
