//! The `piaoju` command, as a library: the Rust binary and the Python console script (the
//! wheel's `piaoju`) both call [`run`], so both have the same commands, output and exit codes.
//!
//! - `piaoju receipt|invoice IMAGE`: one document, its JSON on stdout.
//! - `piaoju batch receipt|invoice INPUT…`: many, as JSON Lines or CSV, with workers, a rate
//!   limit, retries and a result cache (see [`batch`]).
//!
//! Exit codes: 0 success, 1 a call (or, in a batch, some image) failed, 2 a usage error (bad
//! flag, missing input, bad configuration), 128 + the signal for a batch stopped by a signal
//! (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).

pub mod batch;
mod cache;
mod inputs;
pub mod logging;
mod output;
mod view;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32};

use clap::{Args, Parser, Subcommand, ValueEnum};
use piaoju::{Client, Config, DocumentType, Error, ErrorCode};

/// Exit status: every call succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status: a call failed (in a batch: at least one image did).
pub const EXIT_FAILED: i32 = 1;
/// Exit status: a usage error (flags, inputs, configuration); nothing was sent.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: a batch was interrupted (Ctrl-C); the results of the calls that finished
/// were written. A batch stopped by another signal exits with 128 + its number (143 for
/// SIGTERM, 129 for SIGHUP).
pub const EXIT_INTERRUPTED: i32 = 130;

const ENVIRONMENT: &str =
    "Configuration comes from the environment: PIAOJU_JUHE_KEY for receipts; \
PIAOJU_CHINAUMS_APP_ID and PIAOJU_CHINAUMS_APP_KEY for invoices (docs/configuration.md lists every PIAOJU_* \
variable); flags go on top. --sandbox replaces the credentials and URLs with those of a local, \
in-process sandbox (no credentials needed).

Exit status: 0 success; 1 a call failed (batch: some image failed, or the budget of \
--max-requests was spent); 2 usage error (nothing sent); 130 batch interrupted by Ctrl-C, 143 by \
SIGTERM, 129 by SIGHUP (the calls in flight finish, every finished result is written).";

#[derive(Parser, Debug)]
#[command(
    name = "piaoju",
    version = piaoju::VERSION,
    about = "Recognize shopping receipts (Juhe) and used-car sales invoices (ChinaUMS)",
    after_help = ENVIRONMENT,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Recognize one shopping receipt (jpg, jpeg, png, bmp) and print its JSON on stdout.
    Receipt(Single),
    /// Recognize one used-car sales invoice (png, jpg, pdf) and print its JSON on stdout.
    Invoice(Single),
    /// Recognize many images: JSON Lines (or CSV) of every result, a progress bar, a summary.
    Batch(batch::BatchArgs),
    /// Show or trim the result cache (by default the user's: the one batches use).
    Cache(cache::CacheArgs),
}

/// The document type of a batch.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Shopping receipts (Juhe).
    Receipt,
    /// Used-car sales invoices (ChinaUMS).
    Invoice,
}

impl Kind {
    fn document_type(self) -> DocumentType {
        match self {
            Kind::Receipt => DocumentType::ShoppingReceipt,
            Kind::Invoice => DocumentType::UsedCarInvoice,
        }
    }
}

#[derive(Args, Debug)]
struct Single {
    /// The image file.
    image: PathBuf,
    /// text: the document in a dozen lines for a person; json: the result's JSON. Default:
    /// text when stdout is a terminal, json otherwise (a pipe or a file).
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    #[command(flatten)]
    common: Common,
}

/// How a single document is printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OutputFormat {
    /// For a person.
    Text,
    /// The result's JSON (its schema: docs/results.md).
    Json,
}

/// Flags of every command.
#[derive(Args, Debug, Clone, Copy)]
pub struct Common {
    /// Use a local, in-process sandbox instead of the real service (no credentials needed).
    #[arg(long)]
    sandbox: bool,
    /// Refuse an image over the provider's limits instead of fitting it (PIAOJU_IMAGE_FIT=off).
    #[arg(long)]
    no_fit: bool,
    /// Print what piaoju does on stderr: retries, rate-limit waits and refusals, token fetches,
    /// image fitting (-v); and cache hits and misses, every wait and decision (-vv). Never a
    /// secret.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// How a Ctrl-C (or SIGTERM, SIGHUP) reaches a batch.
pub struct Interrupt<'a> {
    /// Set when the user asked to stop (the first Ctrl-C): no new call starts.
    pub flag: &'a AtomicBool,
    /// The signal that asked (2 SIGINT, 15 SIGTERM, 1 SIGHUP), 0 for none: the batch exits
    /// with 128 + it.
    pub signal: &'a AtomicI32,
    /// Called when a batch starts, before any request: the caller starts delivering Ctrl-C
    /// to `flag` from then on (single calls keep the default: Ctrl-C ends the process).
    pub arm: &'a dyn Fn(),
}

/// Run the command line `args` (the program name first) and return the exit status.
pub fn run(args: impl IntoIterator<Item = OsString>, interrupt: Interrupt<'_>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0, usage errors to stderr with 2.
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let status = match cli.command {
        Command::Receipt(single) => run_single(DocumentType::ShoppingReceipt, &single),
        Command::Invoice(single) => run_single(DocumentType::UsedCarInvoice, &single),
        Command::Batch(args) => batch::run(&args, interrupt),
        Command::Cache(args) => cache::run(&args),
    };
    // `-v` lasts as long as the command: a process that runs it and goes on (Python's
    // `_native.cli_main`, a test) gets its own logging back.
    logging::stop();
    status
}

fn run_single(op: DocumentType, single: &Single) -> i32 {
    let format = single.format.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Text
    } else {
        OutputFormat::Json
    });
    // A panic is reported like any other error (901), never as a backtrace.
    let outcome = piaoju::bindings::catch_panic(|| {
        let session = Session::start(&single.common, |_| Ok(()))?;
        let doc = session
            .client
            .recognize(op, &single.image)
            .map_err(|e| session.explain(e))?;
        Ok(match format {
            OutputFormat::Text => view::document(&doc, session.sandbox.is_some()),
            OutputFormat::Json => {
                serde_json::to_string_pretty(&doc).expect("results serialize") + "\n"
            }
        })
    });
    match outcome {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(e) => {
            let text = match format {
                OutputFormat::Text => view::error(&e),
                OutputFormat::Json => e.to_json() + "\n",
            };
            let _ = write!(std::io::stderr(), "{text}");
            exit_status(&e)
        }
    }
}

/// 2 for an error of the usage band (configuration, credentials, arguments), else 1.
fn exit_status(e: &Error) -> i32 {
    if e.code.band() == piaoju::Band::Usage {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    }
}

/// A client configured from the environment and the flags, with the sandbox it talks to when
/// `--sandbox` was given (kept alive as long as the client).
struct Session {
    client: Client,
    sandbox: Option<piaoju_sandbox::Sandbox>,
}

impl Session {
    /// `adjust` changes the configuration after the environment and the common flags.
    fn start(
        common: &Common,
        adjust: impl FnOnce(&mut Config) -> Result<(), Error>,
    ) -> Result<Session, Error> {
        logging::init(common.verbose);
        let sandbox = if common.sandbox {
            Some(piaoju_sandbox::Sandbox::start().map_err(|e| {
                Error::new(
                    ErrorCode::Internal,
                    format!("cannot start the sandbox: {e}"),
                )
            })?)
        } else {
            None
        };
        let mut config = configuration(sandbox.as_ref(), common)?;
        adjust(&mut config)?;
        Ok(Session {
            client: Client::new(config)?,
            sandbox,
        })
    }

    /// Point a user without credentials to `--sandbox`.
    fn explain(&self, mut e: Error) -> Error {
        if e.code == ErrorCode::MissingCredentials && self.sandbox.is_none() {
            e.message
                .push_str(", or pass --sandbox to use the local sandbox");
        }
        e
    }
}

/// The configuration: always the environment, then the flags on top (`--sandbox` replaces both
/// providers' credentials and URLs with a local sandbox's, and drops any proxy: the sandbox is
/// on this machine).
fn configuration(
    sandbox: Option<&piaoju_sandbox::Sandbox>,
    common: &Common,
) -> Result<Config, Error> {
    let mut config = Config::from_env()?;
    if common.no_fit {
        config.image_fit = Some(piaoju::ImageFit::Off);
    }
    if let Some(sb) = sandbox {
        let local = Config::from_json(&sb.client_config_json())?;
        config.juhe = local.juhe;
        config.chinaums = local.chinaums;
        config.proxy = None;
    }
    Ok(config)
}
