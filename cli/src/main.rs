//! `piaoju`: recognize a receipt or a used-car invoice and print the result JSON.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use piaoju::{Client, Config, DocumentType, Error, ErrorCode};

const USAGE: &str = "usage: piaoju receipt IMAGE [--sandbox] [--no-fit]
       piaoju invoice IMAGE [--sandbox] [--no-fit]
       piaoju --version

Prints the result as JSON on stdout (exit 0); on failure prints the error as JSON on
stderr (exit 1; 2 for a usage error).

The configuration comes from the environment: PIAOJU_JUHE_KEY for receipts;
PIAOJU_CHINAUMS_APP_ID and PIAOJU_CHINAUMS_APP_KEY for invoices (see README for every
PIAOJU_* variable). --sandbox replaces the credentials and URLs with those of a local,
in-process sandbox (no credentials needed); the other variables still apply.
--no-fit refuses an image over the provider's limits instead of fitting it (PIAOJU_IMAGE_FIT=off).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("piaoju {}", piaoju::VERSION);
        return ExitCode::SUCCESS;
    }
    let flags = Flags {
        sandbox: args.iter().any(|a| a == "--sandbox"),
        no_fit: args.iter().any(|a| a == "--no-fit"),
    };
    let rest: Vec<&String> = args
        .iter()
        .filter(|a| *a != "--sandbox" && *a != "--no-fit")
        .collect();
    let (op, image) = match rest.as_slice() {
        [cmd, image] if !image.starts_with('-') => match cmd.as_str() {
            "receipt" => (DocumentType::ShoppingReceipt, image.as_str()),
            "invoice" => (DocumentType::UsedCarInvoice, image.as_str()),
            _ => return usage(&format!("unknown command {cmd:?}")),
        },
        _ => return usage("expected a command and one image path"),
    };
    // A panic is reported like any other error (901), never as a backtrace.
    match piaoju::boundary::catch_panic(|| run(op, Path::new(image), &flags)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}", e.to_json());
            ExitCode::from(if e.code.band() == piaoju::Band::Usage {
                2
            } else {
                1
            })
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("piaoju: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}

/// The configuration: always the environment, then the flags on top (`--sandbox` replaces both
/// providers' credentials and URLs with a local sandbox's, and drops any proxy: the sandbox is
/// on this machine).
fn configuration(
    sandbox: Option<&piaoju_sandbox::Sandbox>,
    flags: &Flags,
) -> Result<Config, Error> {
    let mut config = Config::from_env()?;
    if flags.no_fit {
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

/// The command's flags (on top of the environment).
struct Flags {
    sandbox: bool,
    no_fit: bool,
}

fn run(op: DocumentType, image: &Path, flags: &Flags) -> Result<String, Error> {
    let sb = if flags.sandbox {
        Some(piaoju_sandbox::Sandbox::start().map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot start the sandbox: {e}"),
            )
        })?)
    } else {
        None
    };
    let client = Client::new(configuration(sb.as_ref(), flags)?)?;
    let doc = client.recognize(op, image).map_err(|mut e| {
        if e.code == ErrorCode::MissingCredentials && sb.is_none() {
            e.message
                .push_str(", or pass --sandbox to use the local sandbox");
        }
        e
    })?;
    Ok(serde_json::to_string_pretty(&doc).expect("results serialize"))
}
