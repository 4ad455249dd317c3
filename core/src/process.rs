//! State that must not cross a `fork()`: pooled connections and lock state belong to the process
//! that made them. A child process that goes on using a client gets fresh state of its own and
//! never touches its parent's (never reads an answer meant for the parent, never waits on a lock
//! a parent's thread held at the moment of the fork).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};

struct Entry<T> {
    pid: u32,
    value: T,
}

/// Entries of other processes, kept reachable (never freed, never dropped: their connections and
/// locks are the parent's). A lock-free stack, so pushing is safe in a child whatever state the
/// parent's locks were in.
struct Retired {
    /// Only held, never read: it keeps the entry reachable.
    _entry: *mut (),
    next: *mut Retired,
}

static RETIRED: AtomicPtr<Retired> = AtomicPtr::new(std::ptr::null_mut());

fn retire<T>(entry: *mut Entry<T>) {
    let node = Box::into_raw(Box::new(Retired {
        _entry: entry.cast(),
        next: std::ptr::null_mut(),
    }));
    let mut head = RETIRED.load(Ordering::Acquire);
    loop {
        // SAFETY: `node` is ours until the exchange publishes it.
        unsafe { (*node).next = head };
        match RETIRED.compare_exchange_weak(head, node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(actual) => head = actual,
        }
    }
}

/// A value per process: made again, lazily, in a process other than the one that made it.
pub(crate) struct ProcessLocal<T> {
    current: AtomicPtr<Entry<T>>,
    /// Send and Sync only as the impls below say.
    _marker: PhantomData<*const T>,
}

// SAFETY: the value is made on one thread and used by reference from any thread, so it must be
// Send and Sync; the pointer itself is managed atomically.
unsafe impl<T: Send + Sync> Send for ProcessLocal<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for ProcessLocal<T> {}

impl<T> ProcessLocal<T> {
    pub fn new(value: T) -> ProcessLocal<T> {
        let entry = Box::new(Entry {
            pid: std::process::id(),
            value,
        });
        ProcessLocal {
            current: AtomicPtr::new(Box::into_raw(entry)),
            _marker: PhantomData,
        }
    }

    /// This process's value; `make` runs when this process has none yet (after a fork).
    pub fn get(&self, make: impl Fn() -> T) -> &T {
        let pid = std::process::id();
        loop {
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: an entry is freed only when `self` is dropped; entries replaced after a
            // fork are leaked on purpose, so every pointer ever stored stays valid for `&self`.
            let entry = unsafe { &*current };
            if entry.pid == pid {
                return &entry.value;
            }
            // A child process: its parent's entry (connections, locks) is left alone, forever
            // (kept reachable in RETIRED, so leak checkers see it as still reachable).
            let fresh = Box::into_raw(Box::new(Entry { pid, value: make() }));
            match self
                .current
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    retire(current);
                    // SAFETY: `fresh` is now the current entry; see above.
                    return unsafe { &(*fresh).value };
                }
                // Another thread of this process installed one first: use that one.
                // SAFETY: `fresh` was never shared.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }
}

impl<T> Drop for ProcessLocal<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: the current entry is owned by `self`. (Only this process's entry is freed: a
        // parent's entry was replaced, and leaked, when this process first used the value.)
        drop(unsafe { Box::from_raw(current) });
    }
}

impl<T> std::fmt::Debug for ProcessLocal<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessLocal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn the_value_is_made_once_per_process() {
        let made = AtomicUsize::new(0);
        let local = ProcessLocal::new(7);
        let make = || {
            made.fetch_add(1, Ordering::SeqCst);
            8
        };
        assert_eq!(*local.get(make), 7);
        assert_eq!(*local.get(make), 7);
        assert_eq!(made.load(Ordering::SeqCst), 0);
        // As a child process sees it: the entry was made by another process id.
        // SAFETY: test-only; no other thread uses `local`.
        unsafe { (*local.current.load(Ordering::Acquire)).pid = u32::MAX };
        assert_eq!(*local.get(make), 8);
        assert_eq!(*local.get(make), 8);
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }
}
