//! https and wss targets: a loopback server with a certificate from a test CA
//! (`fixtures/tls`), trusted through a CA file, refused by default, accepted when
//! certificate checks are off.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::{any, get};
use common::{counted, quiet, scenario};
use gatebench_driver::{Kind, RunResults, Targets, Trust, run};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

fn tls_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tls")
}

/// Serves `router` over TLS (HTTP/1.1, upgrades allowed) on a free loopback port with
/// the test certificate for `127.0.0.1`; returns its `https://` base URL.
async fn serve_tls(router: Router) -> String {
    serve_tls_counted(router).await.0
}

/// [`serve_tls`], also counting the connections accepted.
async fn serve_tls_counted(router: Router) -> (String, Arc<AtomicU64>) {
    let certs = CertificateDer::pem_file_iter(tls_dir().join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_dir().join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), accepted)
}

async fn speech(ws: WebSocketUpgrade) -> axum::response::Response {
    ws.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            if let Message::Text(t) = msg
                && t.as_str().contains("\"text\":\"\"")
            {
                break;
            }
        }
        let _ = socket
            .send(Message::Text(
                r#"{"audio":"AAAAAAAA","isFinal":null}"#.into(),
            ))
            .await;
        let _ = socket
            .send(Message::Text(r#"{"audio":null,"isFinal":true}"#.into()))
            .await;
        let _ = socket.send(Message::Close(None)).await;
    })
}

const LOAD: &str = r#"
[load]
executor = "per-vu-iterations"
vus = 3
iterations = 4
[[requests]]
name = "ping"
kind = "http"
path = "/ping"
"#;

fn errors(r: &RunResults) -> Vec<(String, u64)> {
    r.kinds["ping"]
        .errors
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_target_is_loaded_when_its_ca_is_trusted() {
    let (router, seen) = counted(Router::new().route("/ping", get(|| async { "pong" })));
    let url = serve_tls(router).await;
    let targets = Targets::new(&url).with_trust(Trust::CaFile(tls_dir().join("ca.pem")));
    let r = run(&scenario(LOAD), &targets, quiet()).await.unwrap();
    assert_eq!((r.totals.sent, r.totals.ok), (12, 12), "{:?}", errors(&r));
    assert_eq!(seen.load(Ordering::SeqCst), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vu_that_thinks_keeps_its_tls_connection_between_requests() {
    let (router, seen) = counted(Router::new().route("/ping", get(|| async { "pong" })));
    let (url, accepted) = serve_tls_counted(router).await;
    let targets = Targets::new(&url).with_trust(Trust::CaFile(tls_dir().join("ca.pem")));
    let load = LOAD.replace("iterations = 4", "iterations = 2\nthink_time = \"1s\"");
    let r = run(&scenario(&load), &targets, quiet()).await.unwrap();
    assert_eq!((r.totals.sent, r.totals.ok), (6, 6), "{:?}", errors(&r));
    assert_eq!(seen.load(Ordering::SeqCst), 6);
    // parked while their VU thinks, the 3 connections (and their TLS sessions) are kept
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_tls_error_and_insecure_accepts_it() {
    let (router, seen) = counted(Router::new().route("/ping", get(|| async { "pong" })));
    let url = serve_tls(router).await;

    // the test CA is not among the system's: every request fails its handshake
    let r = run(&scenario(LOAD), &Targets::new(&url), quiet())
        .await
        .unwrap();
    assert_eq!(r.totals.sent, 12);
    assert_eq!(errors(&r), vec![("tls_error".to_owned(), 12)]);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "no request got through");

    let targets = Targets::new(&url).with_trust(Trust::Insecure);
    let r = run(&scenario(LOAD), &targets, quiet()).await.unwrap();
    assert_eq!((r.totals.sent, r.totals.ok), (12, 12), "{:?}", errors(&r));
    assert_eq!(seen.load(Ordering::SeqCst), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wss_stream_input_target_works_over_tls() {
    let url =
        serve_tls(Router::new().route("/v1/text-to-speech/{voice}/stream-input", any(speech)))
            .await;
    let file = scenario(
        r#"
[load]
executor = "per-vu-iterations"
vus = 2
iterations = 2
[[requests]]
name = "speech"
kind = "tts_ws"
texts = "tts/texts.toml"
chunk_words = 3
"#,
    );
    let targets = Targets::new(&url)
        .with(Kind::TtsWs, &url)
        .with_trust(Trust::CaFile(tls_dir().join("ca.pem")));
    let r = run(&file, &targets, quiet()).await.unwrap();
    let k = &r.kinds["speech"];
    assert_eq!((k.sent, k.ok), (4, 4), "{:?}", k.errors);
}

#[tokio::test]
async fn a_ca_file_that_cannot_be_used_is_a_configuration_error() {
    let missing = tls_dir().join("no-such-ca.pem");
    let targets = Targets::new("https://127.0.0.1:9").with_trust(Trust::CaFile(missing));
    let error = run(&scenario(LOAD), &targets, quiet())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no-such-ca.pem"), "{error}");

    // a PEM file without a certificate in it
    let targets =
        Targets::new("https://127.0.0.1:9").with_trust(Trust::CaFile(tls_dir().join("server.key")));
    let error = run(&scenario(LOAD), &targets, quiet())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("holds no certificate"), "{error}");
}
