//! A gateway behind TLS: the suite reaches it, and drives its load, with the CA
//! named on the command line, and finds it unreachable without.

use std::path::PathBuf;
use std::sync::Arc;

use gatebench_driver::Trust;
use gatebench_report::Verdict;
use gatebench_stack::{Stack, StackOptions};
use gatebench_suite::{SuiteFile, SuiteOptions, run_suite};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

fn tls_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tls")
}

/// Terminates TLS on a free loopback port (the test certificate for `127.0.0.1`) and
/// passes the bytes on to `upstream`, as a load balancer in front of a gateway does.
async fn terminate_tls(upstream: String) -> String {
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
    let upstream = upstream.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut client) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

const BURST: &str = r#"
name = "tls"
seed = 7
time_scale = 0.0
[[check]]
name = "burst"
severity = "major"
kind = "concurrency"
scenario = "chat.toml"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_behind_tls_is_checked_with_its_ca_and_unreachable_without() {
    let stack = Stack::start(StackOptions::ephemeral(7, 0.0)).await.unwrap();
    let url = terminate_tls(stack.gateway_url()).await;
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let file = SuiteFile::parse(BURST, "tls suite", &fixtures).unwrap();
    let out = std::env::temp_dir().join(format!("gatebench-suite-tls-{}", std::process::id()));
    let options = |trust: Trust| SuiteOptions {
        target: Some(url.clone()),
        // the burst is judged by the mocks' books
        mocks: stack.mock_url("openai"),
        keys: vec!["gb-alpha-dev".into()],
        profile: gatebench_suite::TargetProfile::load("gatebench").unwrap(),
        seed: None,
        out: out.clone(),
        quiet: true,
        trust,
    };

    let report = run_suite(&file, &options(Trust::CaFile(tls_dir().join("ca.pem")))).await;
    let burst = &report.checks[0];
    assert!(burst.passed, "{}", burst.measured);
    assert_eq!(report.verdict, Verdict::Ready);

    // the test CA is not among the system's
    let report = run_suite(&file, &options(Trust::Platform)).await;
    assert_eq!(report.verdict, Verdict::NotReady);
    assert!(!report.checks[0].passed);

    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&out);
}
