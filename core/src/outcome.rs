//! How a step of the provider pipeline ends when it gives no value: a failure (an [`Error`],
//! the call's outcome), or nothing sent because the call's batch said so. The second is not
//! an error and never becomes one: a batch reports such an image as not started, and a call
//! outside a batch can never meet it (only a batch cancels or budgets its calls).

use std::fmt;

use crate::error::{Error, ErrorCode};

/// Why a request was not sent although nothing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotSent {
    /// The batch was cancelled (Ctrl-C, a consumer that stopped taking results, the first
    /// failure of a batch that stops on errors).
    Cancelled,
    /// The batch's budget of requests (`max_requests`) is spent.
    BudgetSpent,
}

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotSent::Cancelled => "the batch was cancelled",
            NotSent::BudgetSpent => "the batch's budget of requests (max_requests) is spent",
        })
    }
}

/// A step of the pipeline that gave no value.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The call failed: its error.
    Failed(Error),
    /// Nothing was sent, for the batch's reason.
    NotSent(NotSent),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

/// What a step of the pipeline gives.
pub(crate) type Outcome<T> = std::result::Result<T, Stop>;

/// The outcome of a call made outside any batch, as its caller sees it. Such a call is never
/// cancelled nor budgeted; should that ever change by mistake, the caller gets an `internal`
/// error (a bug to report) rather than a silent nothing.
pub(crate) fn alone<T>(outcome: Outcome<T>) -> crate::error::Result<T> {
    outcome.map_err(|stop| match stop {
        Stop::Failed(e) => e,
        Stop::NotSent(why) => {
            debug_assert!(false, "a call outside a batch was not sent: {why}");
            Error::new(
                ErrorCode::Internal,
                format!(
                    "internal error: a call outside a batch was not sent ({why}); please report it"
                ),
            )
        }
    })
}

#[cfg(test)]
impl Stop {
    /// The failure; a panic if nothing was sent instead.
    pub fn failed(self) -> Error {
        match self {
            Stop::Failed(e) => e,
            Stop::NotSent(why) => panic!("expected a failure, got not sent: {why}"),
        }
    }
}
