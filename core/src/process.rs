//! State that must not cross a `fork()`: pooled connections and lock state belong to the process
//! that made them. A child process that goes on using a client gets fresh state of its own and
//! never touches its parent's (never reads an answer meant for the parent, never waits on a lock
//! a parent's thread held at the moment of the fork).

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

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

/// A lock that a process never waits on forever: one held by a thread of another process (a
/// parent's thread at the moment of a `fork()`, which will never release it here) is taken
/// over. If that thread was changing the value (`writes`), the value may be half-changed, so
/// the taker starts from a fresh one (the old one is leaked, never read). A spin lock that
/// yields: hold it only for a few map operations.
pub(crate) struct ForkSafeLock<T> {
    /// 0 when free; otherwise the holder's process id shifted left by one, and whether it
    /// writes in the lowest bit.
    word: AtomicU64,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached by the one thread holding the lock.
unsafe impl<T: Send> Send for ForkSafeLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for ForkSafeLock<T> {}

/// Releases the lock when dropped (a panic inside included).
struct Unlock<'a>(&'a AtomicU64);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

impl<T> ForkSafeLock<T> {
    pub const fn new(value: T) -> ForkSafeLock<T> {
        ForkSafeLock {
            word: AtomicU64::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Run `f` on the value, holding the lock. `writes`: whether `f` changes the value (a
    /// fork in the middle could leave it half-changed); `fresh` makes the value a child
    /// starts from when its parent's thread was changing it at the fork.
    pub fn with<R>(
        &self,
        writes: bool,
        fresh: impl FnOnce() -> T,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let pid = u64::from(std::process::id());
        let mine = (pid << 1) | u64::from(writes);
        let mut spins = 0u32;
        loop {
            match self
                .word
                .compare_exchange_weak(0, mine, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(0) => {}
                Err(held) if held >> 1 == pid => {
                    // A thread of this process holds it for a moment.
                    spins += 1;
                    if spins < 100 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                Err(held) => {
                    // Held by a thread that does not exist in this process.
                    if self
                        .word
                        .compare_exchange(held, mine, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        if held & 1 == 1 {
                            // SAFETY: the lock is ours now.
                            let old = std::mem::replace(unsafe { &mut *self.value.get() }, fresh());
                            std::mem::forget(old);
                        }
                        break;
                    }
                }
            }
        }
        let _unlock = Unlock(&self.word);
        // SAFETY: the lock is held until `_unlock` is dropped, after `f` returns.
        f(unsafe { &mut *self.value.get() })
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
    fn a_lock_held_by_another_process_is_taken_over() {
        let lock = ForkSafeLock::new(vec![1, 2]);
        assert_eq!(lock.with(false, Vec::new, |v| v.len()), 2);
        // As a child sees it: a thread of its parent held it, reading, at the fork.
        lock.word.store(u64::from(u32::MAX) << 1, Ordering::SeqCst);
        assert_eq!(lock.with(false, Vec::new, |v| v.clone()), vec![1, 2]);
        // ... or writing: the value may be half-changed, so it starts afresh.
        lock.word
            .store((u64::from(u32::MAX) << 1) | 1, Ordering::SeqCst);
        assert_eq!(lock.with(true, || vec![9], |v| v.clone()), vec![9]);
        assert_eq!(lock.word.load(Ordering::SeqCst), 0, "released");
    }

    #[test]
    fn threads_of_one_process_take_turns() {
        let lock = ForkSafeLock::new(0u64);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        lock.with(true, || 0, |n| *n += 1);
                    }
                });
            }
        });
        assert_eq!(lock.with(false, || 0, |n| *n), 40_000);
    }

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
