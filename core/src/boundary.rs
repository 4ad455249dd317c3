//! For the language bindings (C, Python): the panic boundary they all use. A panic inside a call
//! becomes an [`ErrorCode::Panic`] error carrying the panic's message, and nothing is printed
//! on the host's stderr. Panics outside a boundary still go to the previous panic hook.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::error::{Error, ErrorCode, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
