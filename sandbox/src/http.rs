//! A small, strict HTTP/1.1 server loop: Content-Length bodies, keep-alive, bounded sizes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::providers;
use crate::Shared;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to do with the connection after a request.
pub(crate) enum Reply {
    Answer {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Send the head announcing `body.len() + 100` bytes, send `body`, close.
    Truncated { body: Vec<u8> },
    /// Close without a word.
    Close,
    /// A hostile answer (see [`crate::Fault`]).
    Hostile(crate::Fault),
    /// An answer asking the client to come back later (`Retry-After`, seconds).
    Throttled {
        status: u16,
        body: String,
        retry_after: u64,
    },
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::Answer {
            status,
            content_type: "application/json;charset=UTF-8",
            body: body.into().into_bytes(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>, Reply> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take((MAX_HEAD - head.len()) as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|_| Reply::Close)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(Reply::Close)
            };
        }
        if head.len() + line.len() > MAX_HEAD {
            return Err(Reply::json(400, r#"{"error":"request head too large"}"#));
        }
        let end = line == b"\r\n" || line == b"\n";
        head.extend_from_slice(&line);
        if end {
            break;
        }
    }
    let text = String::from_utf8(head)
        .map_err(|_| Reply::json(400, r#"{"error":"head is not UTF-8"}"#))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let (method, path) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v)) if v.starts_with("HTTP/1.") => (m.to_string(), p.to_string()),
        _ => return Err(Reply::json(400, r#"{"error":"bad request line"}"#)),
    };
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| Reply::json(400, r#"{"error":"bad header line"}"#))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req.header("Transfer-Encoding").is_some() {
        return Err(Reply::json(
            400,
            r#"{"error":"chunked bodies are not accepted; send Content-Length"}"#,
        ));
    }
    let len: usize = match req.header("Content-Length") {
        None => 0,
        Some(v) => v
            .parse()
            .map_err(|_| Reply::json(400, r#"{"error":"bad Content-Length"}"#))?,
    };
    if len > MAX_BODY {
        return Err(Reply::json(413, r#"{"error":"body too large"}"#));
    }
    req.body.resize(len, 0);
    reader.read_exact(&mut req.body).map_err(|_| Reply::Close)?;
    Ok(Some(req))
}

/// The gzip "bomb": 20 MiB of zeros in a few KiB (tests/fixtures/bomb.gz).
const GZIP_BOMB: &[u8] = include_bytes!("../../tests/fixtures/bomb.gz");

/// Close with a TCP reset instead of a FIN (SO_LINGER with a zero timeout).
#[cfg(target_os = "linux")]
fn reset(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        onoff: i32,
        seconds: i32,
    }
    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    let linger = Linger {
        onoff: 1,
        seconds: 0,
    };
    // SAFETY: a valid socket descriptor and a pointer to a struct linger of the given size.
    unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &linger,
            std::mem::size_of::<Linger>() as u32,
        );
    }
    drop(stream);
}

#[cfg(not(target_os = "linux"))]
fn reset(stream: TcpStream) {
    drop(stream);
}

/// Write a hostile answer; every loop is bounded (and ends when the client goes away).
fn write_hostile(stream: &mut TcpStream, fault: crate::Fault) {
    use crate::Fault;
    let answer = crate::JUHE_EXAMPLE_ANSWER.as_bytes();
    match fault {
        Fault::Drip(every) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                answer.len()
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            for b in answer {
                std::thread::sleep(every);
                if stream
                    .write_all(&[*b])
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return;
                }
            }
        }
        Fault::EndlessHeaders => {
            if stream.write_all(b"HTTP/1.1 200 OK\r\n").is_err() {
                return;
            }
            for i in 0..6000 {
                std::thread::sleep(Duration::from_millis(10));
                if stream
                    .write_all(format!("X-Endless-{i}: more\r\n").as_bytes())
                    .is_err()
                {
                    return;
                }
            }
        }
        Fault::BadChunk => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-hex\r\n{}\r\n0\r\n\r\n",
            );
        }
        Fault::GzipBomb => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                GZIP_BOMB.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(GZIP_BOMB);
        }
        Fault::Redirect => {
            let _ = stream.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:9/elsewhere\r\nContent-Length: 0\r\n\r\n",
            );
        }
        Fault::Huge => {
            const LEN: usize = 100 << 20;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {LEN}\r\n\r\n{{\"reason\":\""
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b'a'; 64 << 10];
            let mut sent = head.len();
            while sent < LEN {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
                sent += chunk.len();
            }
        }
        Fault::AfterSendReset => {
            if let Ok(s) = stream.try_clone() {
                reset(s);
            }
        }
        Fault::Reset => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"reason\":";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.flush();
            std::thread::sleep(Duration::from_millis(20));
            if let Ok(s) = stream.try_clone() {
                reset(s);
            }
        }
        _ => {}
    }
    let _ = stream.flush();
}

fn write_reply(stream: &mut TcpStream, reply: Reply, keep_alive: bool) -> bool {
    match reply {
        Reply::Close => false,
        Reply::Hostile(fault) => {
            write_hostile(stream, fault);
            false
        }
        Reply::Throttled {
            status,
            body,
            retry_after,
        } => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\nRetry-After: {retry_after}\r\nConnection: {}\r\n\r\n",
                reason(status),
                body.len(),
                if keep_alive { "keep-alive" } else { "close" }
            );
            let ok = stream.write_all(head.as_bytes()).is_ok()
                && stream.write_all(body.as_bytes()).is_ok()
                && stream.flush().is_ok();
            ok && keep_alive
        }
        Reply::Truncated { body } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len() + 100
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
            false
        }
        Reply::Answer {
            status,
            content_type,
            body,
        } => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
                reason(status),
                body.len(),
                if keep_alive { "keep-alive" } else { "close" }
            );
            let ok = stream.write_all(head.as_bytes()).is_ok()
                && stream.write_all(&body).is_ok()
                && stream.flush().is_ok();
            ok && keep_alive
        }
    }
}

pub(crate) fn serve_connection(stream: TcpStream, shared: &Shared) {
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // Bounded: at most this many requests per connection.
    for _ in 0..10_000 {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let (reply, keep_alive) = match read_request(&mut reader) {
            Ok(None) => return,
            Ok(Some(req)) => {
                let keep_alive = !req
                    .header("Connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let reply = providers::handle(shared, &req);
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                (reply, keep_alive)
            }
            Err(reply) => (reply, false),
        };
        if !write_reply(&mut writer, reply, keep_alive) {
            return;
        }
    }
}
