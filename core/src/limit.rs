//! Per-client request limits shared by every thread using the client: at most `max_qps`
//! requests a second to a provider, as a sliding window (a request waits until fewer than
//! `max_qps` were sent in the last second, plus a margin for the network's jitter; above 1,
//! `max_qps` counts whole requests), and at most `max_in_flight` requests at once. Waiting
//! never passes the call's deadline.
//!
//! And the provider's own limit, learned (on by default, whatever `max_qps` says): when the
//! provider refuses a request for its rate (Juhe 10011, HTTP 429), every thread pauses for its
//! `Retry-After` and the requests are then paced at a rate that falls by a factor at each
//! refusal (multiplicatively, at most once a second) and climbs back slowly with each success
//! (additively), never above `max_qps`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::deadline::{Deadline, CANCEL_CHECK_INTERVAL};
use crate::error::{Error, Provider};
use crate::outcome::{NotSent, Outcome, Stop};
use crate::process::ProcessLocal;
use crate::LOG_TARGET;

/// Added to the window, so that requests bunched up on the way still arrive at most
/// `max_qps` a second.
const JITTER_MARGIN: Duration = Duration::from_millis(50);

/// The factor a refusal lowers the learned rate by.
const DECREASE: f64 = 0.7;
/// What each success adds to the learned rate, divided by the rate (about this many requests a
/// second more, each second).
const INCREASE: f64 = 0.25;
/// The learned rate never falls below this (requests a second).
const MIN_LEARNED_RATE: f64 = 0.05;
/// The pause after a refusal that says no `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause a provider's `Retry-After` is taken for.
const MAX_PAUSE: Duration = Duration::from_secs(86_400);

#[derive(Debug)]
pub(crate) struct Limiter {
    /// Whose limits (in log records).
    provider: Provider,
    /// Requests allowed per window, and the window.
    rate: Option<(usize, Duration)>,
    max_qps: Option<f64>,
    max_in_flight: Option<usize>,
    /// Per process: a child after `fork()` never waits on its parent's locks.
    state: ProcessLocal<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the last requests (up to the allowed number) were, or will be, sent.
    sent: Mutex<VecDeque<Instant>>,
    in_flight: Mutex<usize>,
    released: Condvar,
    learned: Mutex<Learned>,
}

/// What the provider's refusals taught.
#[derive(Debug, Default)]
struct Learned {
    /// Requests a second to keep to; `None` until the provider first refuses one.
    rate: Option<f64>,
    /// No request before this (the provider's `Retry-After`).
    resume_at: Option<Instant>,
    /// When the next request may go at `rate`.
    next_turn: Option<Instant>,
    /// When the rate was last lowered.
    lowered_at: Option<Instant>,
    /// When the latest requests were sent (the rate seen when the first refusal comes).
    recent: VecDeque<Instant>,
}

impl Learned {
    /// When a request asked for now may go, reserving that turn.
    fn turn(&mut self, now: Instant) -> Instant {
        let mut at = now.max(self.resume_at.unwrap_or(now));
        if let Some(rate) = self.rate {
            at = at.max(self.next_turn.unwrap_or(at));
            self.next_turn = Some(at + Duration::from_secs_f64(1.0 / rate));
        }
        self.recent.push_back(at);
        while self
            .recent
            .front()
            .is_some_and(|t| at.saturating_duration_since(*t) > Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        at
    }

    /// Reserve the next turn if it comes within `left` of `now`; `None` (nothing reserved)
    /// when it does not.
    fn turn_within(&mut self, now: Instant, left: Duration) -> Option<Instant> {
        if self.ready_at(now).saturating_duration_since(now) >= left {
            return None;
        }
        Some(self.turn(now))
    }

    /// When a request could go, without reserving anything.
    fn ready_at(&self, now: Instant) -> Instant {
        let at = now.max(self.resume_at.unwrap_or(now));
        match self.rate {
            Some(_) => at.max(self.next_turn.unwrap_or(at)),
            None => at,
        }
    }
}

/// A request's place in flight; released when dropped.
pub(crate) struct Permit<'a> {
    limiter: Option<&'a State>,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(l) = self.limiter {
            let mut n = l.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            *n -= 1;
            l.released.notify_one();
        }
    }
}

impl Limiter {
    pub fn new(provider: Provider, max_qps: Option<f64>, max_in_flight: Option<u32>) -> Limiter {
        let rate = max_qps.map(|q| {
            if q >= 1.0 {
                (q.floor() as usize, Duration::from_secs(1) + JITTER_MARGIN)
            } else {
                (1, Duration::from_secs_f64(1.0 / q) + JITTER_MARGIN)
            }
        });
        Limiter {
            provider,
            rate,
            max_qps,
            max_in_flight: max_in_flight.map(|n| n as usize),
            state: ProcessLocal::new(State::default()),
        }
    }

    /// Wait for a place in flight, then for the request's turn; give up (nothing sent,
    /// [`NotSent::Cancelled`]) as soon as `cancel` is set.
    pub fn acquire(&self, deadline: &Deadline, cancel: Option<&AtomicBool>) -> Outcome<Permit<'_>> {
        let provider = self.provider;
        let cancelled = || cancel.is_some_and(|c| c.load(Ordering::SeqCst));
        if cancelled() {
            return Err(Stop::NotSent(NotSent::Cancelled));
        }
        let state = self.state.get(State::default);
        let permit = match self.max_in_flight {
            None => Permit { limiter: None },
            Some(max) => {
                let mut n = state.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                if *n >= max {
                    // Said without holding the lock (a host's logger may take its own lock).
                    drop(n);
                    log::debug!(
                        target: LOG_TARGET,
                        "{}: {max} requests in flight (max_in_flight): waiting for one to end",
                        provider.label()
                    );
                    n = state.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                }
                while *n >= max {
                    if cancelled() {
                        return Err(Stop::NotSent(NotSent::Cancelled));
                    }
                    let mut left = deadline
                        .remaining(provider, "waiting for a place among max_in_flight requests")?;
                    if cancel.is_some() {
                        left = left.min(CANCEL_CHECK_INTERVAL);
                    }
                    n = state
                        .released
                        .wait_timeout(n, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                *n += 1;
                Permit {
                    limiter: Some(state),
                }
            }
        };
        if let Some((allowed, window)) = self.rate {
            let now = Instant::now();
            let left = deadline.remaining(provider, "waiting for the max_qps rate")?;
            let turn = {
                let mut sent = state.sent.lock().unwrap_or_else(|p| p.into_inner());
                let turn = next_turn(&sent, allowed, window, now);
                if turn.saturating_duration_since(now) >= left {
                    // Not reserved: the turn stays for a call that can wait for it, and a
                    // batch sends this image again when its turn comes.
                    drop(sent);
                    log::debug!(
                        target: LOG_TARGET,
                        "{}: the max_qps rate lets no request go before the deadline ({:.3} s \
                         away): not sent",
                        provider.label(),
                        left.as_secs_f64()
                    );
                    return Err(refused(
                        deadline.expired(provider, "waiting for its turn under max_qps"),
                    )
                    .into());
                }
                sent.push_back(turn);
                while sent.len() > allowed {
                    sent.pop_front();
                }
                turn
            };
            let wait = turn.saturating_duration_since(now);
            if !wait.is_zero() {
                log::debug!(
                    target: LOG_TARGET,
                    "{}: waiting {:.3} s for the max_qps rate",
                    provider.label(),
                    wait.as_secs_f64()
                );
            }
            if !Deadline::sleep_unless(wait, cancel) {
                return Err(Stop::NotSent(NotSent::Cancelled));
            }
        }
        // The provider's own limit, as learned: the turn is checked and reserved at once.
        let now = Instant::now();
        let left = deadline.remaining(provider, "waiting for the provider's rate limit")?;
        let Some(turn) = state.learned().turn_within(now, left) else {
            // Nothing was sent: a batch sends the image again when the provider is ready.
            log::debug!(
                target: LOG_TARGET,
                "{}: the provider's rate limit lets no request go before the deadline \
                 ({:.3} s away): not sent",
                provider.label(),
                left.as_secs_f64()
            );
            return Err(refused(
                deadline.expired(provider, "waiting for the provider's rate limit"),
            )
            .into());
        };
        let wait = turn.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            log::debug!(
                target: LOG_TARGET,
                "{}: waiting {:.3} s for the provider's learned rate limit",
                provider.label(),
                wait.as_secs_f64()
            );
        }
        if !Deadline::sleep_unless(wait, cancel) {
            return Err(Stop::NotSent(NotSent::Cancelled));
        }
        Ok(permit)
    }

    /// The provider refused a request for its rate: pause every thread for `retry_after` (at
    /// most a day) and lower the rate to keep to (at most once a second).
    pub fn refused(&self, retry_after: Option<Duration>) {
        let state = self.state.get(State::default);
        let mut learned = state.learned();
        let now = Instant::now();
        let pause = retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_PAUSE);
        let resume = now.checked_add(pause).unwrap_or(now);
        learned.resume_at = Some(learned.resume_at.map_or(resume, |r| r.max(resume)));
        if learned
            .lowered_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            drop(learned);
            log::info!(
                target: LOG_TARGET,
                "{}: a request was refused for the provider's rate: every thread pauses {:.3} s",
                self.provider.label(),
                pause.as_secs_f64()
            );
            return;
        }
        let seen = learned
            .recent
            .iter()
            .filter(|t| now.saturating_duration_since(**t) <= Duration::from_secs(1))
            .count()
            .max(1) as f64;
        let lowered = (learned.rate.unwrap_or(seen) * DECREASE).max(MIN_LEARNED_RATE);
        learned.rate = Some(self.max_qps.map_or(lowered, |q| lowered.min(q)));
        learned.lowered_at = Some(now);
        learned.next_turn = learned.resume_at;
        let rate = learned.rate.unwrap_or(MIN_LEARNED_RATE);
        drop(learned);
        log::info!(
            target: LOG_TARGET,
            "{}: a request was refused for the provider's rate: every thread pauses {:.3} s, \
             then sends at most {rate:.2} requests a second (learned; it climbs back with \
             each success)",
            self.provider.label(),
            pause.as_secs_f64()
        );
    }

    /// A request went through: the learned rate climbs back a little.
    pub fn succeeded(&self) {
        let state = self.state.get(State::default);
        let mut learned = state.learned();
        if let Some(rate) = learned.rate {
            // About INCREASE requests a second more each second, never more than half again.
            let raised = rate + (INCREASE / rate).min(rate / 2.0);
            learned.rate = Some(self.max_qps.map_or(raised, |q| raised.min(q)));
        }
    }

    /// How long until a request could go, as far as `max_qps` and the provider's learned
    /// limit say.
    pub fn ready_in(&self) -> Duration {
        let now = Instant::now();
        let state = self.state.get(State::default);
        let mut ready = state.learned().ready_at(now);
        if let Some((allowed, window)) = self.rate {
            let sent = state.sent.lock().unwrap_or_else(|p| p.into_inner());
            ready = ready.max(next_turn(&sent, allowed, window, now));
        }
        ready.saturating_duration_since(now)
    }
}

/// The next turn under `max_qps`: the request `allowed` places back must be a window old.
fn next_turn(sent: &VecDeque<Instant>, allowed: usize, window: Duration, now: Instant) -> Instant {
    match sent.len().checked_sub(allowed) {
        Some(i) => now.max(sent[i] + window),
        None => now,
    }
}

/// A wait for the rate that could not end before the deadline: nothing was sent.
fn refused(mut e: Error) -> Error {
    e.refused = true;
    e
}

impl State {
    fn learned(&self) -> std::sync::MutexGuard<'_, Learned> {
        self.learned.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn requests_are_spaced_and_bounded_in_flight() {
        let l = Arc::new(Limiter::new(Provider::Juhe, Some(4.0), Some(2)));
        let deadline = Deadline::after(Duration::from_secs(10));
        let started = Instant::now();
        let times: Vec<Duration> = (0..10)
            .map(|_| {
                let _p = l.acquire(&deadline, None).unwrap();
                started.elapsed()
            })
            .collect();
        // Any 5 consecutive requests span more than a second.
        for w in times.windows(5) {
            assert!(w[4] - w[0] >= Duration::from_secs(1), "{times:?}");
        }
        // Two in flight at most: a third waits, then gives up at its deadline.
        let a = l.acquire(&deadline, None).unwrap();
        let b = l.acquire(&deadline, None).unwrap();
        let short = Deadline::after(Duration::from_millis(100));
        let e = l.acquire(&short, None).err().unwrap().failed();
        assert_eq!(e.code, crate::ErrorCode::Timeout);
        drop((a, b));
        assert!(l.acquire(&deadline, None).is_ok());
    }

    /// `acquire` while another thread sets its cancel flag after 100 ms: how it stopped, and
    /// how long the wait took.
    fn acquire_cancelled_after_100_ms(l: &Limiter, deadline: &Deadline) -> (Stop, Duration) {
        let cancel = AtomicBool::new(false);
        let started = Instant::now();
        let e = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                cancel.store(true, Ordering::SeqCst);
            });
            l.acquire(deadline, Some(&cancel)).err().unwrap()
        });
        (e, started.elapsed())
    }

    #[test]
    fn a_wait_that_cannot_end_before_the_deadline_keeps_no_turn() {
        // 1 request a second; then a caller with a 0.6 s deadline every 0.6 s: refused waits
        // reserve nothing, so every other caller gets the turn that comes free.
        let l = Limiter::new(Provider::Juhe, Some(1.0), None);
        drop(
            l.acquire(&Deadline::after(Duration::from_secs(5)), None)
                .unwrap(),
        );
        let mut outcomes = Vec::new();
        for _ in 0..6 {
            let short = Deadline::after(Duration::from_millis(600));
            match l.acquire(&short, None) {
                Ok(_) => outcomes.push(true),
                Err(stop) => {
                    let e = stop.failed();
                    assert!(e.refused && e.code == crate::ErrorCode::Timeout, "{e}");
                    outcomes.push(false);
                }
            }
            std::thread::sleep(Duration::from_millis(600));
        }
        assert!(
            outcomes.iter().filter(|ok| **ok).count() >= 2,
            "{outcomes:?}"
        );
    }

    #[test]
    fn a_cancelled_wait_sends_nothing() {
        let l = Limiter::new(Provider::Juhe, Some(1.0), Some(1));
        let deadline = Deadline::after(Duration::from_secs(30));
        // Waiting for the place in flight that `held` keeps.
        let held = l.acquire(&deadline, None).unwrap();
        let (e, took) = acquire_cancelled_after_100_ms(&l, &deadline);
        assert!(matches!(e, Stop::NotSent(NotSent::Cancelled)), "{e:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        drop(held);
        // Waiting for the next turn of a 1-per-second rate (this one takes the current turn).
        drop(l.acquire(&deadline, None).unwrap());
        let (e, took) = acquire_cancelled_after_100_ms(&l, &deadline);
        assert!(matches!(e, Stop::NotSent(NotSent::Cancelled)), "{e:?}");
        assert!(took < Duration::from_millis(900), "{took:?}");
    }
}
