//! For the language bindings (C, Python): the panic boundary they all use, and the table of
//! handles a host holds ([`Handles`]). A panic inside a call becomes an [`ErrorCode::Panic`]
//! error carrying the panic's message, and nothing is printed on the host's stderr. Panics
//! outside a boundary still go to the previous panic hook.

use std::cell::Cell;
use std::collections::btree_map::{BTreeMap, Entry};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use crate::error::{Error, ErrorCode, Result};
use crate::process::ForkSafeLock;

thread_local! {
    /// Depth of boundaries on this thread, and the message of the last panic caught in one.
    static INSIDE: Cell<u32> = const { Cell::new(0) };
    static MESSAGE: Cell<Option<String>> = const { Cell::new(None) };
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if INSIDE.with(Cell::get) == 0 {
                return previous(info);
            }
            let text = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let mut message = format!("{text}{place}");
            if message.len() > 500 {
                let mut cut = 500;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
                message.push('…');
            }
            MESSAGE.with(|m| m.set(Some(message)));
        }));
    });
}

/// Run `body`; a panic becomes a `panic` error (901) whose message says what panicked.
pub fn catch_panic<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    install_hook();
    INSIDE.with(|d| d.set(d.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(body));
    INSIDE.with(|d| d.set(d.get() - 1));
    outcome.unwrap_or_else(|_| {
        let what = MESSAGE
            .with(Cell::take)
            .unwrap_or_else(|| "unknown".to_string());
        Err(Error::new(
            ErrorCode::Panic,
            format!("internal error: a panic was caught ({what}); please report it"),
        ))
    })
}

/// Handles to objects given to a host (C's `pj_client *`): a token the host holds, never a
/// pointer the library follows. A token names its object until [`Handles::remove`]; after
/// that (or for a value that never was a token) [`Handles::get`] says `None`, so a freed or
/// made-up handle is an error, not undefined behaviour, and a second free does nothing. A
/// token is never used again for another object (before 2^60 objects on 64-bit systems, 2^28
/// on 32-bit ones). Each `get` gives an `Arc`: calls in flight keep their object alive after
/// it was removed, and it is dropped with the last of them.
///
/// Safe across `fork()`: the table's lock is never waited on forever in a child.
pub struct Handles<T> {
    table: ForkSafeLock<BTreeMap<usize, Arc<T>>>,
}

/// Tokens are counted from here, 16 apart: far from small integers (a status, a length) and,
/// on 64-bit systems, outside the addresses a pointer can hold.
const TOKEN_BASE: usize = 0x7A50usize << (usize::BITS - 16);

/// The next token's number, shared by every table (so no two tables' tokens ever meet).
static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(1);

impl<T> Handles<T> {
    /// An empty table.
    pub const fn new() -> Handles<T> {
        Handles {
            table: ForkSafeLock::new(BTreeMap::new()),
        }
    }

    /// Keep `value`; its token (never 0).
    pub fn insert(&self, value: T) -> usize {
        let value = Arc::new(value);
        loop {
            let n = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
            let token = TOKEN_BASE.wrapping_add(n.wrapping_mul(16));
            if token == 0 {
                continue;
            }
            let inserted = self
                .table
                .with(true, BTreeMap::new, |t| match t.entry(token) {
                    Entry::Occupied(_) => false,
                    Entry::Vacant(v) => {
                        v.insert(Arc::clone(&value));
                        true
                    }
                });
            if inserted {
                return token;
            }
        }
    }

    /// The object of a live token.
    pub fn get(&self, token: usize) -> Option<Arc<T>> {
        self.table
            .with(false, BTreeMap::new, |t| t.get(&token).cloned())
    }

    /// Forget a token; `false` if it named nothing. The object goes when the last call using
    /// it ends (here, if none is in flight).
    pub fn remove(&self, token: usize) -> bool {
        let removed = self.table.with(true, BTreeMap::new, |t| t.remove(&token));
        // Dropped outside the lock: closing connections and files may take a while.
        removed.is_some()
    }
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Handles::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_names_its_object_until_it_is_removed() {
        let handles = Handles::new();
        let a = handles.insert(String::from("a"));
        let b = handles.insert(String::from("b"));
        assert_ne!(a, 0);
        assert_ne!(a, b);
        assert_eq!(handles.get(a).as_deref().map(String::as_str), Some("a"));
        // A call in flight keeps its object after the handle is freed.
        let in_flight = handles.get(b).unwrap();
        assert!(handles.remove(b));
        assert_eq!(*in_flight, "b");
        assert!(handles.get(b).is_none(), "freed");
        assert!(!handles.remove(b), "a second free does nothing");
        for made_up in [0, 1, 100, a + 1, usize::MAX] {
            assert!(handles.get(made_up).is_none(), "{made_up:#x}");
        }
        assert_eq!(
            Arc::strong_count(&in_flight),
            1,
            "only the call holds it now"
        );
        // Tokens are never used again.
        let c = handles.insert(String::from("c"));
        assert!(c != a && c != b);
    }

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let e = catch_panic::<()>(|| panic!("the {} thing", "broken")).unwrap_err();
        assert_eq!(e.code, ErrorCode::Panic);
        assert!(e.message.contains("the broken thing"), "{}", e.message);
        assert!(e.message.contains("boundary.rs"), "{}", e.message);
        assert_eq!(catch_panic(|| Ok(5)).unwrap(), 5);
        let e = catch_panic::<()>(|| Err(Error::new(ErrorCode::Timeout, "t"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::Timeout);
    }
}
