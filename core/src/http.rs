//! The one HTTP agent a client shares between threads, and the mapping of transport failures.

use std::io::ErrorKind;

use crate::config::{redact_url, Config};
use crate::error::{Error, ErrorCode, Provider, Result};

/// Answers larger than this are refused (an OCR answer is a few KiB to a few hundred KiB).
const MAX_RESPONSE_LEN: u64 = 16 * 1024 * 1024;

/// A completed HTTP exchange: any status, and the body bytes (what the parsers read).
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

pub(crate) fn agent(config: &Config) -> Result<ureq::Agent> {
    let proxy = match &config.proxy {
        Some(p) => Some(ureq::Proxy::new(p).map_err(|_| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("proxy is not a valid proxy URL: {:?}", redact_url(p)),
            )
        })?),
        None => None,
    };
    let user_agent = config
        .user_agent
        .clone()
        .unwrap_or_else(|| format!("piaoju/{}", env!("CARGO_PKG_VERSION")));
    let agent_config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(config.timeout()))
        .timeout_connect(Some(config.connect_timeout()))
        .proxy(proxy)
        .user_agent(user_agent)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .build();
    Ok(agent_config.into())
}

/// POST `body` to `url` and read the whole answer, whatever its status.
pub(crate) fn post(
    agent: &ureq::Agent,
    provider: Provider,
    url: &str,
    content_type: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<HttpAnswer> {
    let mut req = agent.post(url).header("Content-Type", content_type);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let mut resp = req
        .send(body)
        .map_err(|e| transport_error(provider, url, e))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_LEN)
        .read_to_vec()
        .map_err(|e| transport_error(provider, url, e).with_http_status(status))?;
    Ok(HttpAnswer { status, body })
}

fn transport_error(provider: Provider, url: &str, e: ureq::Error) -> Error {
    let url = redact_url(url);
    let (code, what) = match &e {
        ureq::Error::Timeout(t) => (ErrorCode::Timeout, format!("timed out ({t})")),
        ureq::Error::HostNotFound => (ErrorCode::ConnectFailed, "host not found".to_string()),
        ureq::Error::ConnectionFailed => {
            (ErrorCode::ConnectFailed, "connection failed".to_string())
        }
        ureq::Error::ConnectProxyFailed(m) => (
            ErrorCode::ConnectFailed,
            format!("proxy connection failed: {m}"),
        ),
        ureq::Error::Tls(m) => (ErrorCode::TlsFailed, format!("TLS failed: {m}")),
        ureq::Error::Rustls(r) => (ErrorCode::TlsFailed, format!("TLS failed: {r}")),
        ureq::Error::Pem(p) => (ErrorCode::TlsFailed, format!("TLS certificate: {p}")),
        ureq::Error::TlsRequired => (ErrorCode::TlsFailed, "TLS required".to_string()),
        ureq::Error::BodyExceedsLimit(n) => (
            ErrorCode::UnexpectedResponse,
            format!("answer larger than {n} bytes"),
        ),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::InvalidProxyUrl => (
            ErrorCode::InvalidConfig,
            format!("invalid request URL: {e}"),
        ),
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                (ErrorCode::Timeout, format!("timed out: {io}"))
            }
            ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable => (
                ErrorCode::ConnectFailed,
                format!("connection refused: {io}"),
            ),
            _ => (
                ErrorCode::ConnectionBroken,
                format!("connection broken: {io}"),
            ),
        },
        ureq::Error::Protocol(p) => (
            ErrorCode::ConnectionBroken,
            format!("HTTP protocol error: {p}"),
        ),
        other => (ErrorCode::ConnectionBroken, format!("{other}")),
    };
    Error::new(
        code,
        format!("{} request to {url}: {what}", provider_label(provider)),
    )
    .with_provider(provider)
}

pub(crate) fn provider_label(p: Provider) -> &'static str {
    match p {
        Provider::Juhe => "Juhe",
        Provider::Chinaums => "ChinaUMS",
    }
}

/// A short, printable excerpt of a body for error messages (bodies never contain our secrets:
/// they are the provider's answers, not our requests).
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4)]);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX || body.len() > MAX * 4 {
        out.push('…');
    }
    out
}

/// Parse an answer body as JSON, or explain what it was instead.
pub(crate) fn json_body(provider: Provider, answer: &HttpAnswer) -> Result<serde_json::Value> {
    let label = provider_label(provider);
    match serde_json::from_slice::<serde_json::Value>(&answer.body) {
        Ok(v) => Ok(v),
        Err(_) => {
            let status = answer.status;
            let code = if status >= 500 {
                ErrorCode::ServiceHttpError
            } else if status == 429 {
                ErrorCode::RateLimited
            } else if !(200..300).contains(&status) {
                ErrorCode::UnexpectedHttpStatus
            } else {
                ErrorCode::MalformedResponse
            };
            let body = if answer.body.is_empty() {
                "an empty body".to_string()
            } else {
                format!("body starting {:?}", excerpt(&answer.body))
            };
            Err(Error::new(
                code,
                format!("{label} answered HTTP {status} with {body}, not the expected JSON"),
            )
            .with_provider(provider)
            .with_http_status(status))
        }
    }
}
