//! `piaoju`: recognize a receipt or a used-car invoice and print the result JSON.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use piaoju::{Client, Config, DocumentType, Error, ErrorCode};

const USAGE: &str = "usage: piaoju receipt IMAGE [--sandbox]
       piaoju invoice IMAGE [--sandbox]
       piaoju --version

Prints the result as JSON on stdout (exit 0); on failure prints the error as JSON on
stderr (exit 1; 2 for a usage error).

Credentials come from the environment: PIAOJU_JUHE_KEY for receipts; PIAOJU_CHINAUMS_APP_ID
and PIAOJU_CHINAUMS_APP_KEY for invoices (see README for every PIAOJU_* variable).
--sandbox runs against a local, in-process sandbox instead (no credentials needed).";

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
    let sandbox = args.iter().any(|a| a == "--sandbox");
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--sandbox").collect();
    let (op, image) = match rest.as_slice() {
        [cmd, image] if !image.starts_with('-') => match cmd.as_str() {
            "receipt" => (DocumentType::ShoppingReceipt, image.as_str()),
            "invoice" => (DocumentType::UsedCarInvoice, image.as_str()),
            _ => return usage(&format!("unknown command {cmd:?}")),
        },
        _ => return usage("expected a command and one image path"),
    };
    match run(op, Path::new(image), sandbox) {
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

fn run(op: DocumentType, image: &Path, sandbox: bool) -> Result<String, Error> {
    let doc = if sandbox {
        let sb = piaoju_sandbox::Sandbox::start().map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot start the sandbox: {e}"),
            )
        })?;
        let client = Client::new(Config::from_json(&sb.client_config_json())?)?;
        client.recognize(op, image)?
    } else {
        Client::new(Config::from_env()?)?
            .recognize(op, image)
            .map_err(|mut e| {
                if e.code == ErrorCode::MissingCredentials {
                    e.message
                        .push_str(", or pass --sandbox to use the local sandbox");
                }
                e
            })?
    };
    Ok(serde_json::to_string_pretty(&doc).expect("results serialize"))
}
