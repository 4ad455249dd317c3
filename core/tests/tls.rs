//! TLS roots: a local HTTPS server whose certificate is signed by a CA made here is refused with
//! the bundled roots (`tls_failed`) and accepted with `tls.ca_file` or `tls.roots: "system"`
//! (via `SSL_CERT_FILE`). (Its own test binary: it sets SSL_CERT_FILE for the process.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use piaoju::{Client, Config, ErrorCode};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const ANSWER: &str = include_str!("../../tests/fixtures/juhe_receipt_answer.json");
const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");

struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (params, key, cert.pem())
}

fn pki() -> Pki {
    let (ca_params, ca_key, ca_pem) = ca("piaoju test CA");
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem,
        server_chain: vec![cert.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// An HTTPS server on 127.0.0.1 that answers `connections` connections (each one request, or a
/// refused handshake) with the Juhe example, then ends.
fn serve(pki: &Pki, connections: usize) -> (String, JoinHandle<()>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(tcp) = stream else { continue };
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
            let mut content_length = 0;
            let mut line = String::new();
            loop {
                line.clear();
                if tls.read_line(&mut line).unwrap_or(0) == 0 {
                    break; // handshake refused or connection closed
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    let mut body = vec![0; content_length];
                    if tls.read_exact(&mut body).is_err() {
                        break;
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    );
                    let stream = tls.get_mut();
                    let _ = stream.write_all(reply.as_bytes());
                    let _ = stream.flush();
                    stream.conn.send_close_notify();
                    let _ = stream.flush();
                    break;
                }
            }
        }
    });
    (url, handle)
}

fn temp_pem(name: &str, pem: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("piaoju-tls-{}-{name}.pem", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    path
}

fn receipt(url: &str, tls: &str) -> Result<piaoju::ShoppingReceipt, piaoju::Error> {
    let config = format!(r#"{{"juhe":{{"key":"k","base_url":"{url}"}},"timeout_ms":10000{tls}}}"#);
    Client::new(Config::from_json(&config)?)?.recognize_shopping_receipt(RECEIPT_PNG)
}

#[test]
fn a_private_ca_is_refused_by_default_and_trusted_when_configured() {
    let pki = pki();
    let ca_file = temp_pem("ca", &pki.ca_pem);
    let (_, _, other_ca_pem) = ca("some other CA");
    let other_file = temp_pem("other", &other_ca_pem);
    let (url, server) = serve(&pki, 5);
    let json_path = |p: &PathBuf| serde_json::to_string(p.to_str().unwrap()).unwrap();

    // The bundled roots do not know the test CA.
    let e = receipt(&url, "").unwrap_err();
    assert_eq!(e.code, ErrorCode::TlsFailed, "{e}");
    // Refused in the handshake, before the request: never billed, no request counted.
    assert_eq!((e.possibly_billed, e.attempts), (false, 0), "{e}");

    // tls.ca_file trusts it.
    let r = receipt(
        &url,
        &format!(r#","tls":{{"ca_file":{}}}"#, json_path(&ca_file)),
    )
    .unwrap();
    assert_eq!(r.order_id.as_deref(), Some("JH1241217171601ZDomp"));

    // Another CA's file does not.
    let e = receipt(
        &url,
        &format!(r#","tls":{{"ca_file":{}}}"#, json_path(&other_file)),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::TlsFailed, "{e}");

    // The system roots, as SSL_CERT_FILE names them.
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    let r = receipt(&url, r#","tls":{"roots":"system"}"#).unwrap();
    assert_eq!(r.shop_name.as_deref(), Some("多又好超市"));
    // The same through the environment variables of the configuration.
    std::env::set_var("PIAOJU_TLS_ROOTS", "system");
    std::env::set_var("PIAOJU_JUHE_KEY", "k");
    std::env::set_var("PIAOJU_JUHE_BASE_URL", &url);
    let r = Client::from_env()
        .unwrap()
        .recognize_shopping_receipt(RECEIPT_PNG)
        .unwrap();
    assert_eq!(r.shop_name.as_deref(), Some("多又好超市"));

    server.join().unwrap();
    for f in [ca_file, other_file] {
        let _ = std::fs::remove_file(f);
    }
}
