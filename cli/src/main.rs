//! `piaoju`: recognize receipts and used-car invoices, one or a batch (see the `piaoju_cli`
//! library, shared with the Python wheel's `piaoju` script).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first Ctrl-C of a batch.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let status = piaoju_cli::run(
        std::env::args_os(),
        piaoju_cli::Interrupt {
            flag: &INTERRUPTED,
            arm: &arm_ctrl_c,
        },
    );
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// From now on the first SIGINT sets [`INTERRUPTED`] (the batch stops starting calls and ends
/// with the ones in flight) and the second ends the process at once, with status 130.
#[cfg(unix)]
fn arm_ctrl_c() {
    extern "C" fn on_sigint(_: libc::c_int) {
        // Only async-signal-safe operations: an atomic swap and _exit.
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            unsafe { libc::_exit(130) };
        }
    }
    // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic and calls _exit.
    // SA_RESTART: a read or write the signal interrupts is resumed, not failed with EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Elsewhere Ctrl-C keeps its default (the process ends; finished results are in the cache).
#[cfg(not(unix))]
fn arm_ctrl_c() {
    let _ = &INTERRUPTED;
    let _ = Ordering::SeqCst;
}
