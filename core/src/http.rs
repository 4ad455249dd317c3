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
        let answer = answer.map_err(|mut f| {
            if sent == 0 && f.error.http_status.is_none() {
                f.error.possibly_billed = false;
            }
            f
        });
        // A timeout says how far the request had gone.
        answer.map_err(|Failure { error: e, reading }| match sent {
            _ if e.code != ErrorCode::Timeout || reading => e,
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
        .map_err(|Failure { error: e, reading }| match e.code {
            ErrorCode::Timeout if !reading => {
                timed_out(e, provider, url, deadline, "before its answer came")
            }
            _ => e,
        })
    }

    /// One exchange: the request with its headers and the call's remaining time, sent by `send`;
    /// the whole answer read, whatever its status. A failure says whether it came while the
    /// answer was being read (its timeout message then says so already).
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
    ) -> std::result::Result<HttpAnswer, Failure> {
        let before = |error| Failure {
            error,
            reading: false,
        };
        let remaining = deadline
            .remaining(provider, "before sending a request")
            .map_err(before)?;
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
        let mut resp = send(req).map_err(|e| before(transport_error(provider, url, e)))?;
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
                let error = if e.code == ErrorCode::Timeout {
                    timed_out(e, provider, url, deadline, "while reading the answer")
                } else {
                    e
                };
                Failure {
                    error,
                    reading: true,
                }
            })?;
        Ok(HttpAnswer {
            status,
            body,
            retry_after,
        })
    }
}

/// An exchange's failure, and whether it came while the answer was being read.
struct Failure {
    error: Error,
    reading: bool,
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

/// An agent with these settings, [`Resolver`] and [`Connector`].
fn agent(settings: &ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(settings.clone(), Connector::default(), Resolver::default())
}

/// Where a request failed before anything was sent: looking up the host's name, or making the
/// connection (TCP, a proxy's `CONNECT`, the TLS handshake, which ends before a byte of the
/// request is written). The resolver and the connector below wrap their failures in it, so
/// that [`transport_error`] knows by type, never by message text, that the provider cannot
/// have seen (nor billed) the request.
#[derive(Debug)]
struct NotConnected {
    stage: Stage,
    error: ureq::Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Lookup,
    Connect,
}

impl std::fmt::Display for NotConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not connected ({:?}): {}", self.stage, self.error)
    }
}

impl std::error::Error for NotConnected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The error wrapped as a failure before anything was sent, once: a proxy's connection is made
/// through the same connector (ureq's `CONNECT` runs the agent's connector chain), so its
/// failure comes back already wrapped.
fn not_connected(stage: Stage, error: ureq::Error) -> ureq::Error {
    match error {
        ureq::Error::Other(e) if e.is::<NotConnected>() => ureq::Error::Other(e),
        error => ureq::Error::Other(Box::new(NotConnected { stage, error })),
    }
}

/// ureq's resolver, which looks a name up on a thread of its own so that the lookup ends by
/// the deadline, and panics when no thread can be started (a container's thread limit). Then
/// the lookup is made on the calling thread instead (without its own time limit): a call is
/// never failed for a thread it could not start. Its failures are [`NotConnected`].
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
        let resolved = match on_its_thread {
            Ok(resolved) => resolved,
            Err(_) => self.0.resolve(
                uri,
                config,
                ureq::unversioned::transport::NextTimeout::default(),
            ),
        };
        resolved.map_err(|e| not_connected(Stage::Lookup, e))
    }
}

/// ureq's connectors (proxy, TCP, TLS), whose failures are [`NotConnected`].
#[derive(Debug, Default)]
struct Connector(ureq::unversioned::transport::DefaultConnector);

impl ureq::unversioned::transport::Connector<()> for Connector {
    type Out = Box<dyn ureq::unversioned::transport::Transport>;

    fn connect(
        &self,
        details: &ureq::unversioned::transport::ConnectionDetails,
        chained: Option<()>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        self.0
            .connect(details, chained)
            .map_err(|e| not_connected(Stage::Connect, e))
    }
}

/// Whether rustls's own error is in the I/O error's chain of errors (rustls reports a failed
/// handshake as an I/O error of kind `InvalidData` holding it). The walk starts at the error
/// the I/O error holds: `io::Error::source` skips it.
fn is_tls_failure(io: &std::io::Error) -> bool {
    let mut next = io
        .get_ref()
        .map(|e| e as &(dyn std::error::Error + 'static));
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return true;
        }
        next = match e.downcast_ref::<std::io::Error>() {
            Some(inner) => inner
                .get_ref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// The error's code and what happened, for a message.
fn classify(e: &ureq::Error, stage: Option<Stage>, io_text: &str) -> (ErrorCode, String) {
    match e {
        ureq::Error::Timeout(t) => (ErrorCode::Timeout, format!("timed out ({t})")),
        // The lookup's own text is the C library's (gai_strerror), in the host's locale: not
        // repeated.
        _ if stage == Some(Stage::Lookup) => match e {
            ureq::Error::BadUri(_) => (
                ErrorCode::InvalidConfig,
                format!("invalid request URL: {e}"),
            ),
            _ => (ErrorCode::ConnectFailed, "host not found".to_string()),
        },
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
                (ErrorCode::Timeout, format!("timed out: {io_text}"))
            }
            ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable => (
                ErrorCode::ConnectFailed,
                format!("connection refused: {io_text}"),
            ),
            _ if is_tls_failure(io) => (ErrorCode::TlsFailed, format!("TLS failed: {io_text}")),
            _ if stage == Some(Stage::Connect) => (
                ErrorCode::ConnectFailed,
                format!("connection failed: {io_text}"),
            ),
            _ => (
                ErrorCode::ConnectionBroken,
                format!("connection broken: {io_text}"),
            ),
        },
        ureq::Error::Protocol(p) => (
            ErrorCode::ConnectionBroken,
            format!("HTTP protocol error: {p}"),
        ),
        other => (ErrorCode::ConnectionBroken, format!("{other}")),
    }
}

fn transport_error(provider: Provider, url: &str, e: ureq::Error) -> Error {
    let url = redact_url(url);
    // A failure of the resolver or the connector: nothing was sent.
    let (e, stage) = match e {
        ureq::Error::Other(other) => match other.downcast::<NotConnected>() {
            Ok(nc) => (nc.error, Some(nc.stage)),
            Err(other) => (ureq::Error::Other(other), None),
        },
        e => (e, None),
    };
    // An I/O error's own text may be the C library's, in the host's locale: said in English,
    // with its number in `os_error`.
    let (io_text, os_error) = match &e {
        ureq::Error::Io(io) => {
            let os = crate::os_error::describe(io);
            (os.text, os.code)
        }
        _ => (String::new(), None),
    };
    let (code, what) = classify(&e, stage, &io_text);
    // Whether the request may have reached the provider: not when the name was never looked
    // up or the connection (or its TLS handshake) never made, nor when the URL or proxy was
    // refused locally.
    let before_sending = stage.is_some()
        || match &e {
            ureq::Error::Timeout(t) => {
                matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect)
            }
            ureq::Error::Io(_) => code == ErrorCode::ConnectFailed,
            _ => matches!(
                code,
                ErrorCode::ConnectFailed | ErrorCode::TlsFailed | ErrorCode::InvalidConfig
            ),
        };
    // A lookup's failure keeps no OS text, but its number if it has one.
    let os_error = if stage == Some(Stage::Lookup) {
        match &e {
            ureq::Error::Io(io) => io.raw_os_error(),
            _ => None,
        }
    } else {
        os_error
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

    /// A server on 127.0.0.1 that takes one connection, reads what comes for 200 ms, then
    /// does `then` with the connection; its URL (http).
    fn serve_once(then: impl FnOnce(std::net::TcpStream) + Send + 'static) -> String {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            then(s);
        });
        format!("http://{addr}/x")
    }

    #[test]
    fn a_lookup_failure_is_known_by_its_type_and_its_localized_text_is_not_repeated() {
        // What std makes of getaddrinfo's failure: a text in the host's locale, no number.
        let localized =
            std::io::Error::other("failed to lookup address information: Nom ou service inconnu");
        let e = transport_error(
            Provider::Juhe,
            "http://u:secret@example.invalid/x",
            not_connected(Stage::Lookup, ureq::Error::Io(localized)),
        );
        assert_eq!(e.code, ErrorCode::ConnectFailed, "{e}");
        assert!(!e.possibly_billed);
        assert_eq!(
            e.message,
            "Juhe request to http://<redacted>@example.invalid/x: host not found"
        );
        // The same text outside a lookup is not taken for one.
        let e = transport_error(
            Provider::Juhe,
            "http://h/x",
            ureq::Error::Io(std::io::Error::other(
                "failed to lookup address information: x",
            )),
        );
        assert_eq!(e.code, ErrorCode::ConnectionBroken, "{e}");
        assert!(e.possibly_billed);
    }

    #[test]
    fn a_proxy_that_refuses_the_connection_is_connect_failed_and_never_billed() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        // ureq makes the proxy's connection through the same connector: wrapped once.
        let config = Config::builder()
            .proxy(format!("http://127.0.0.1:{port}"))
            .build()
            .unwrap();
        let http = Http::new(&config).unwrap();
        let deadline = Deadline::after(Duration::from_secs(10));
        for url in ["http://127.0.0.1:9/x", "https://127.0.0.1:9/x"] {
            let e = http
                .post(&deadline, Provider::Juhe, url, "text/plain", None, b"x")
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::ConnectFailed, "{url}: {e}");
            assert!(!e.possibly_billed, "{url}: {e}");
        }
    }

    #[test]
    fn a_failed_tls_handshake_is_tls_failed_and_never_billed() {
        // A plain HTTP server behind an https:// URL: rustls refuses its answer to the
        // ClientHello (no certificate involved), before a byte of the request was written.
        let url = serve_once(|mut s| {
            use std::io::Write;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            std::thread::sleep(Duration::from_millis(200));
        });
        let e = post_to(&url.replace("http://", "https://"));
        assert_eq!(e.code, ErrorCode::TlsFailed, "{e}");
        assert!(!e.possibly_billed, "{e}");
    }

    #[test]
    fn a_connection_closed_after_the_request_is_broken_and_possibly_billed() {
        let url = serve_once(drop);
        let e = post_to(&url);
        assert_eq!(e.code, ErrorCode::ConnectionBroken, "{e}");
        assert!(e.possibly_billed, "{e}");
    }

    #[test]
    fn no_answer_after_the_request_is_a_timeout_and_possibly_billed() {
        let url = serve_once(|s| {
            std::thread::sleep(Duration::from_millis(1500));
            drop(s);
        });
        let http = Http::new(&Config::default()).unwrap();
        let deadline = Deadline::after(Duration::from_millis(500));
        let e = http
            .post(&deadline, Provider::Juhe, &url, "text/plain", None, b"x")
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Timeout, "{e}");
        assert!(e.possibly_billed, "{e}");
    }

    #[test]
    fn a_host_that_does_not_resolve_is_connect_failed() {
        // .invalid never resolves (RFC 6761).
        let e = post_to("http://piaoju-test.invalid/x");
        assert_eq!(e.code, ErrorCode::ConnectFailed, "{e}");
        assert!(!e.possibly_billed, "{e}");
    }

    #[test]
    fn a_refused_connection_is_connect_failed() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = post_to(&format!("http://127.0.0.1:{port}/x"));
        assert_eq!(e.code, ErrorCode::ConnectFailed, "{e}");
        assert!(!e.possibly_billed, "{e}");
        // The OS error in English, its number apart.
        #[cfg(target_os = "linux")]
        {
            assert_eq!(e.os_error, Some(111), "{e}");
            assert!(e.message.contains("(ECONNREFUSED: os error 111)"), "{e}");
        }
    }
}
