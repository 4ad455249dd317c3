//! The one HTTP agent a client shares between threads: timeouts, proxy, user agent, the TLS
//! roots it trusts, and the mapping of transport failures to the error catalogue.

use std::io::ErrorKind;
use std::path::Path;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig as UreqTls};

use crate::body::ImageBody;
use crate::config::{redact_url, Config, TlsConfig, TlsRoots};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorCode, Provider, Result};
use crate::process::ProcessLocal;
use crate::wire::HttpAnswer;

/// Idle keep-alive connections kept per host (and in all): as many as threads commonly share
/// one client.
const MAX_IDLE_CONNECTIONS: usize = 32;

/// Answers larger than this are refused (an OCR answer is a few KiB to a few hundred KiB).
const MAX_RESPONSE_LEN: u64 = 16 * 1024 * 1024;

/// Where the system's CA bundle usually is (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine…).
const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
];

/// The shared agent: one connection pool per process (a child process after `fork()` makes
/// its own and never touches its parent's connections).
#[derive(Debug)]
pub(crate) struct Http {
    settings: ureq::config::Config,
    connect_timeout: std::time::Duration,
    agent: ProcessLocal<ureq::Agent>,
}

fn config_error(msg: String) -> Error {
    Error::new(ErrorCode::InvalidConfig, msg)
}

/// The certificates of a PEM file (an `invalid_config` error if there are none).
fn pem_certificates(path: &Path, what: &str) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path).map_err(|e| {
        let os = crate::os_error::describe(&e);
        config_error(format!(
            "cannot read {what} {}: {}",
            crate::text::display_path(path),
            os.text
        ))
        .with_os_error(os.code)
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(config_error(format!(
                    "{what} {} is not valid PEM: {e}",
                    path.display()
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(config_error(format!(
            "{what} {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn system_ca_file() -> Result<std::path::PathBuf> {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        return Ok(f.into());
    }
    SYSTEM_CA_FILES
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            config_error(
                "tls.roots is \"system\" but no system CA bundle was found: set SSL_CERT_FILE or tls.ca_file"
                    .to_string(),
            )
        })
}

fn root_certs(tls: Option<&TlsConfig>) -> Result<RootCerts> {
    let Some(tls) = tls else {
        return Ok(RootCerts::WebPki);
    };
    let mut certs = Vec::new();
    if tls.roots == TlsRoots::System {
        certs.extend(pem_certificates(
            &system_ca_file()?,
            "the system CA bundle",
        )?);
    }
    if let Some(f) = &tls.ca_file {
        certs.extend(pem_certificates(Path::new(f), "tls.ca_file")?);
    }
    Ok(if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&certs)
    })
}

impl Http {
    pub fn new(config: &Config) -> Result<Http> {
        let proxy = match &config.proxy {
            Some(p) => Some(ureq::Proxy::new(p).map_err(|_| {
                config_error(format!(
                    "proxy is not a valid proxy URL: {:?}",
                    redact_url(p)
                ))
            })?),
            None => None,
        };
        let user_agent = config
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("piaoju/{}", env!("CARGO_PKG_VERSION")));
        let tls = UreqTls::builder()
            .root_certs(root_certs(config.tls.as_ref())?)
            .build();
        // Every request gets the time left of its call's deadline (see `post`).
        let settings = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout()))
            .proxy(proxy)
            .user_agent(user_agent)
            .tls_config(tls)
            .max_redirects(0)
            .max_redirects_will_error(false)
            // ureq keeps 3 idle connections a host by default: threads sharing a client would
            // open a new connection for most calls. Keep one per thread that may use it.
            .max_idle_connections(MAX_IDLE_CONNECTIONS)
            .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
            .build();
        Ok(Http {
            agent: ProcessLocal::new(agent(&settings)),
            connect_timeout: config.connect_timeout(),
            settings,
        })
    }

    /// POST a streamed image body (exact Content-Length, never held whole in memory) to `url`
    /// and read the whole answer, whatever its status, within the time left before `deadline`.
    pub fn post_stream(
        &self,
        deadline: &Deadline,
        provider: Provider,
        url: &str,
        content_type: &str,
        authorization: Option<&str>,
        mut body: ImageBody<'_>,
    ) -> Result<HttpAnswer> {
        let len = body.len();
        let answer = self.exchange(
            deadline,
            provider,
            url,
            content_type,
            authorization,
            Some(len),
            |req| req.send(ureq::SendBody::from_reader(&mut body)),
        );
        // Not one byte of the image left: the provider cannot have processed (or billed) it,
        // whatever broke before that (a connection never made, a reset during the headers).
        let sent = body.sent();
        let answer = answer.map_err(|mut e| {
            if sent == 0 && e.http_status.is_none() {
                e.possibly_billed = false;
            }
            e
        });
        // A timeout says how far the request had gone.
        answer.map_err(|e| match sent {
            _ if e.code != ErrorCode::Timeout || e.message.contains("while reading") => e,
            0 => timed_out(
                e,
                provider,
                url,
                deadline,
                "before any of the image was sent (connecting, or sending the headers)",
            ),
            n if n < len => timed_out(
                e,
                provider,
                url,
                deadline,
                &format!(
                    "while sending the request ({} of {} sent)",
                    megabytes(n),
                    megabytes(len)
                ),
            ),
            _ => timed_out(
                e,
                provider,
                url,
                deadline,
                "while waiting for the answer (the whole request was sent)",
            ),
        })
    }

    /// POST `body` to `url` and read the whole answer, whatever its status, within the time
    /// left before `deadline`.
    pub fn post(
        &self,
        deadline: &Deadline,
        provider: Provider,
        url: &str,
        content_type: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<HttpAnswer> {
        self.exchange(
            deadline,
            provider,
            url,
            content_type,
            authorization,
            None,
            |req| req.send(body),
        )
        .map_err(|e| match e.code {
            ErrorCode::Timeout if !e.message.contains("while reading") => {
                timed_out(e, provider, url, deadline, "before its answer came")
            }
            _ => e,
        })
    }

    /// One exchange: the request with its headers and the call's remaining time, sent by `send`;
    /// the whole answer read, whatever its status.
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &self,
        deadline: &Deadline,
        provider: Provider,
        url: &str,
        content_type: &str,
        authorization: Option<&str>,
        content_length: Option<u64>,
        send: impl FnOnce(
            ureq::RequestBuilder<ureq::typestate::WithBody>,
        ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<HttpAnswer> {
        let remaining = deadline.remaining(provider, "before sending a request")?;
        let agent = self.agent.get(|| agent(&self.settings));
        let mut req = agent
            .post(url)
            .config()
            .timeout_global(Some(remaining))
            .timeout_connect(Some(remaining.min(self.connect_timeout)))
            .build()
            .header("Content-Type", content_type);
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        if let Some(n) = content_length {
            req = req.header("Content-Length", n);
        }
        let mut resp = send(req).map_err(|e| transport_error(provider, url, e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            // A day at most: a hostile or broken server's number is not trusted further.
            .map(|secs| std::time::Duration::from_secs(secs.min(86_400)));
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_LEN)
            .read_to_vec()
            .map_err(|e| {
                let e = transport_error(provider, url, e).with_http_status(status);
                if e.code == ErrorCode::Timeout {
                    timed_out(e, provider, url, deadline, "while reading the answer")
                } else {
                    e
                }
            })?;
        Ok(HttpAnswer {
            status,
            body,
            retry_after,
        })
    }
}

/// A timeout's error saying what timed out and after how long: `Juhe request to URL: the
/// call's deadline of 15000 ms (timeout_ms) passed while waiting for the answer (…)`.
fn timed_out(e: Error, provider: Provider, url: &str, deadline: &Deadline, when: &str) -> Error {
    Error {
        message: format!(
            "{} request to {}: the call's deadline of {} ms (timeout_ms) passed {when}",
            provider.label(),
            redact_url(url),
            deadline.timeout().as_millis()
        ),
        ..e
    }
}

/// `1.2 MB`, `340 KB`, `512 bytes`.
fn megabytes(n: u64) -> String {
    match n {
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{} KB", n / 1_000),
        n => format!("{n} bytes"),
    }
}

/// An agent with these settings and [`Resolver`].
fn agent(settings: &ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        settings.clone(),
        ureq::unversioned::transport::DefaultConnector::default(),
        Resolver::default(),
    )
}

/// ureq's resolver, which looks a name up on a thread of its own so that the lookup ends by
/// the deadline, and panics when no thread can be started (a container's thread limit). Then
/// the lookup is made on the calling thread instead (without its own time limit): a call is
/// never failed for a thread it could not start.
#[derive(Debug, Default)]
struct Resolver(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        // The boundary keeps the panic's message off stderr.
        let on_its_thread =
            crate::boundary::catch_panic(|| Ok(self.0.resolve(uri, config, timeout)));
        match on_its_thread {
            Ok(resolved) => resolved,
            Err(_) => self.0.resolve(
                uri,
                config,
                ureq::unversioned::transport::NextTimeout::default(),
            ),
        }
    }
}

fn transport_error(provider: Provider, url: &str, e: ureq::Error) -> Error {
    let url = redact_url(url);
    // An I/O error's own text may be the C library's, in the host's locale: said in English,
    // with its number in `os_error`.
    let (io, os_error) = match &e {
        ureq::Error::Io(io) => {
            let os = crate::os_error::describe(io);
            (os.text, os.code)
        }
        _ => (String::new(), None),
    };
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
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                (ErrorCode::Timeout, format!("timed out: {io}"))
            }
            ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable => (
                ErrorCode::ConnectFailed,
                format!("connection refused: {io}"),
            ),
            // The resolver's failure (std's getaddrinfo error has no kind of its own).
            _ if e.to_string().contains("failed to lookup address") => {
                (ErrorCode::ConnectFailed, format!("host not found: {io}"))
            }
            // rustls reports a refused certificate as an I/O error of kind InvalidData.
            ErrorKind::InvalidData if e.to_string().contains("certificate") => {
                (ErrorCode::TlsFailed, format!("TLS failed: {io}"))
            }
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
    // Whether the request may have reached the provider: not when the connection (or the TLS
    // handshake) was never made, nor when the URL or proxy was refused locally.
    let before_sending = match &e {
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ureq::Error::Io(io) => {
            matches!(
                io.kind(),
                ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable
            ) || io.to_string().contains("failed to lookup address")
        }
        _ => matches!(
            code,
            ErrorCode::ConnectFailed | ErrorCode::TlsFailed | ErrorCode::InvalidConfig
        ),
    };
    let error = Error::new(
        code,
        format!("{} request to {url}: {what}", provider.label()),
    )
    .with_provider(provider)
    .with_os_error(os_error);
    if before_sending {
        error
    } else {
        error.possibly_billed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn post_to(url: &str) -> Error {
        let http = Http::new(&Config::default()).unwrap();
        let deadline = Deadline::after(Duration::from_secs(10));
        http.post(&deadline, Provider::Juhe, url, "text/plain", None, b"x")
            .unwrap_err()
    }

    #[test]
    fn a_host_that_does_not_resolve_is_connect_failed() {
        // .invalid never resolves (RFC 6761).
        let e = post_to("http://piaoju-test.invalid/x");
        assert_eq!(e.code, ErrorCode::ConnectFailed, "{e}");
    }

    #[test]
    fn a_refused_connection_is_connect_failed() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = post_to(&format!("http://127.0.0.1:{port}/x"));
        assert_eq!(e.code, ErrorCode::ConnectFailed, "{e}");
        // The OS error in English, its number apart.
        #[cfg(target_os = "linux")]
        {
            assert_eq!(e.os_error, Some(111), "{e}");
            assert!(e.message.contains("(ECONNREFUSED: os error 111)"), "{e}");
        }
    }
}
