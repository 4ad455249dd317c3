//! The deadline of one call: `timeout_ms` bounds the whole call (token fetch, refresh, every
//! request, reading the answers), not each exchange.

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode, Provider, Result};

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
