//! The writer of one process: answers queued by the calls, written in order by one thread
//! (or by the calling thread when no thread can be started).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{ResultStore, WriteReport};
use crate::error::ErrorCode;

/// How long one write may wait for another process's lock before it is tried again.
const WRITE_BUSY_WAIT: Duration = Duration::from_secs(5);

/// How often a write held by another process's lock is tried (each waits
/// [`WRITE_BUSY_WAIT`]) before it is given up.
const WRITE_TRIES: u32 = 4;

/// The writer of one process: a queue of answers, written in order by one thread.
#[derive(Default)]
pub(super) struct Writer {
    state: Mutex<WriterState>,
    changed: Condvar,
}

/// An answer to write: its ticket, key, body, the tries so far, and whether it replaces an
/// entry already there.
type Entry = (u64, String, Arc<[u8]>, u32, bool);

/// An answer to record: a success (which replaces a recorded verdict) or a verdict on the image
/// (which an entry already there keeps out).
pub(crate) enum Answer {
    Success(Vec<u8>),
    Verdict(Vec<u8>),
}

#[derive(Default)]
struct WriterState {
    queue: VecDeque<Entry>,
    /// Answers queued or being written, by key: read from here until written.
    pending: HashMap<String, Arc<[u8]>>,
    next_ticket: u64,
    /// Tickets whose caller waits for them, and the outcomes of those that are done
    /// (`Some(why)` for a failure).
    waited: HashSet<u64>,
    finished: HashMap<u64, Option<String>>,
    /// An entry is being written (taken off the queue).
    writing: bool,
    failed: u64,
    last_error: Option<String>,
    thread: bool,
    stop: bool,
}

impl Writer {
    fn lock(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn pending(&self, key: &str) -> Option<Arc<[u8]>> {
        self.lock().pending.get(key).cloned()
    }

    pub(super) fn has_queued(&self) -> bool {
        !self.lock().queue.is_empty()
    }

    /// Queue an answer: its ticket, and how many answers were waiting before it.
    pub(super) fn enqueue(&self, key: &str, answer: Answer) -> (u64, usize) {
        let (answer, replace) = match answer {
            Answer::Success(a) => (a, true),
            Answer::Verdict(a) => (a, false),
        };
        let mut st = self.lock();
        let backlog = st.queue.len() + usize::from(st.writing);
        st.next_ticket += 1;
        let ticket = st.next_ticket;
        let answer: Arc<[u8]> = answer.into();
        st.pending.insert(key.to_string(), Arc::clone(&answer));
        st.queue
            .push_back((ticket, key.to_string(), answer, 0, replace));
        st.waited.insert(ticket);
        drop(st);
        self.changed.notify_all();
        (ticket, backlog)
    }

    /// Start the writing thread if there is none; `false` if none can be started.
    pub(super) fn ensure_thread(self: &Arc<Self>, store: &Arc<dyn ResultStore>) -> bool {
        let mut st = self.lock();
        if st.thread {
            return true;
        }
        let (writer, store) = (Arc::clone(self), Arc::clone(store));
        let started = std::thread::Builder::new()
            .name("piaoju-cache-writer".into())
            .spawn(move || writer.run(&*store));
        st.thread = started.is_ok();
        st.thread
    }

    fn run(&self, store: &dyn ResultStore) {
        loop {
            {
                let mut st = self.lock();
                while st.queue.is_empty() && !st.stop {
                    st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if st.queue.is_empty() {
                    st.thread = false;
                    return;
                }
            }
            self.write_next(store, WRITE_BUSY_WAIT);
        }
    }

    /// Write the first queued answer. One held by another process's lock goes back to the
    /// end of the queue (a few times, after a pause); any other failure is final.
    pub(super) fn write_next(&self, store: &dyn ResultStore, busy_wait: Duration) {
        let Some((ticket, key, answer, tries, replace)) = ({
            let mut st = self.lock();
            let next = st.queue.pop_front();
            st.writing = next.is_some();
            next
        }) else {
            return;
        };
        let outcome = if replace {
            store.replace(&key, &answer, busy_wait)
        } else {
            store.put(&key, &answer, busy_wait)
        };
        let mut st = self.lock();
        st.writing = false;
        match outcome {
            Err(e) if e.code == ErrorCode::Timeout && tries + 1 < WRITE_TRIES && !st.stop => {
                st.queue
                    .push_back((ticket, key, answer, tries + 1, replace));
                drop(st);
                std::thread::sleep(Duration::from_millis(100));
                return;
            }
            Err(e) => {
                st.failed += 1;
                st.last_error = Some(e.message.clone());
                st.pending.remove(&key);
                if st.waited.remove(&ticket) {
                    st.finished.insert(ticket, Some(e.message));
                }
            }
            Ok(()) => {
                st.pending.remove(&key);
                if st.waited.remove(&ticket) {
                    st.finished.insert(ticket, None);
                }
            }
        }
        drop(st);
        self.changed.notify_all();
    }

    /// Wait until `ticket` is done, at most `wait`: `Some(why)` if it failed by then.
    pub(super) fn wait_for(&self, ticket: u64, wait: Duration) -> Option<String> {
        let until = Instant::now() + wait;
        let mut st = self.lock();
        loop {
            if let Some(outcome) = st.finished.remove(&ticket) {
                return outcome;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Not done yet: its outcome is only counted.
                st.waited.remove(&ticket);
                return None;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    pub(super) fn flush(&self, timeout: Duration) -> WriteReport {
        let until = Instant::now() + timeout;
        let mut st = self.lock();
        while (!st.queue.is_empty() || st.writing) && st.thread {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        WriteReport {
            failed: st.failed,
            pending: (st.queue.len() + usize::from(st.writing)) as u64,
            last_error: st.last_error.clone(),
        }
    }

    pub(super) fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}
