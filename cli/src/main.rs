//! `piaoju`: recognize receipts and used-car invoices, one or a batch (see the `piaoju_cli`
//! library, shared with the Python wheel's `piaoju` script).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set by the first Ctrl-C (or SIGTERM, SIGHUP) of a batch.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Which signal that was.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

fn main() -> ExitCode {
    let status = piaoju_cli::run(
        std::env::args_os(),
        piaoju_cli::Interrupt {
            flag: &INTERRUPTED,
            signal: &SIGNAL,
            arm: &arm_signals,
        },
    );
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// From now on the first SIGINT, SIGTERM or SIGHUP sets [`INTERRUPTED`] and [`SIGNAL`] (the
/// batch stops starting calls, ends with the ones in flight, writes every result and exits
/// with 128 + the signal); the second ends the process at once, with that status. A signal
/// the command was started with ignored (`nohup`, a shell's background job) stays ignored.
#[cfg(unix)]
fn arm_signals() {
    extern "C" fn on_signal(signal: libc::c_int) {
        // Only async-signal-safe operations: atomics and _exit.
        let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            unsafe { libc::_exit(128 + signal) };
        }
    }
    // SAFETY: a zeroed sigaction is valid; the handler only touches atomics and calls _exit.
    // SA_RESTART: a read or write the signal interrupts is resumed, not failed with EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let mut current: libc::sigaction = std::mem::zeroed();
            let known = libc::sigaction(signal, std::ptr::null(), &mut current) == 0;
            if known && current.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Elsewhere Ctrl-C keeps its default (the process ends; finished results are in the cache).
#[cfg(not(unix))]
fn arm_signals() {
    let _ = (&INTERRUPTED, &SIGNAL);
    let _ = Ordering::SeqCst;
}
