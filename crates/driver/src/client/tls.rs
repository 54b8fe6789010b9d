//! HTTPS (and `wss://`) targets: rustls over the VU's TCP connection.
//!
//! Certificates are checked against the operating system's trust store by default;
//! [`Trust::CaFile`] trusts a private CA instead (a staging service's own), and
//! [`Trust::Insecure`] checks nothing, as `curl -k` and `oha --insecure` do. The
//! client config is built once per endpoint, so its session cache lets reconnecting
//! VUs resume sessions.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_platform_verifier::BuilderVerifierExt as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::Outcome;

/// Which server certificates an `https://` target may present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Trust {
    /// Those the operating system trusts.
    #[default]
    Platform,
    /// Those issued by the CA certificates in this PEM file.
    CaFile(PathBuf),
    /// Any: no check at all (a self-signed staging certificate).
    Insecure,
}

/// How to open TLS to one endpoint.
pub(crate) struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
    /// Whether a handshake failure has been logged: it repeats on every connect.
    warned: AtomicBool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("name", &self.name).finish()
    }
}

impl Trust {
    /// A rustls client configuration (HTTP/1.1 only) that trusts these certificates;
    /// the error says what could not be loaded.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let provider = gatebench_tls::provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let mut config = match self {
            Trust::Platform => builder
                .with_platform_verifier()
                .map_err(|e| format!("cannot load the system's trusted certificates: {e}"))?
                .with_no_client_auth(),
            Trust::CaFile(path) => {
                let shown = path.display();
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("cannot read CA file {shown}: {e}"))?
                {
                    let cert = cert.map_err(|e| format!("CA file {shown}: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("CA file {shown}: {e}"))?;
                }
                if roots.is_empty() {
                    return Err(format!("CA file {shown} holds no certificate"));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                    provider.signature_verification_algorithms,
                )))
                .with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl Tls {
    /// TLS to `host` with `trust`; the error says what could not be loaded.
    pub fn new(host: &str, trust: &Trust) -> Result<Tls, String> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("`{host}` is not a TLS server name: {e}"))?;
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(trust.client_config()?)),
            name,
            warned: AtomicBool::new(false),
        })
    }

    /// The TLS handshake over an open TCP connection.
    pub async fn handshake(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        let result = self.connector.connect(self.name.clone(), tcp).await;
        if let Err(error) = &result
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(server = ?self.name, %error, "TLS handshake failed (requests count as tls_error)");
        }
        result
    }
}

/// Accepts every certificate; signatures are still checked, so the session is at
/// least with the holder of the certificate's key.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A VU's connection: plain TCP or TLS over it.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Connects, with TLS when the endpoint has it.
    pub async fn open(addr: std::net::SocketAddr, tls: Option<&Tls>) -> Result<Stream, Failure> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|_| Failure::Connect)?;
        // small requests must not wait for Nagle and delayed ACKs
        let _ = tcp.set_nodelay(true);
        match tls {
            None => Ok(Stream::Plain(tcp)),
            Some(tls) => match tls.handshake(tcp).await {
                Ok(s) => Ok(Stream::Tls(Box::new(s))),
                Err(_) => Err(Failure::Tls),
            },
        }
    }
}

/// Why a connection could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// TCP connect failed.
    Connect,
    /// The TLS handshake failed (an untrusted certificate, no common protocol).
    Tls,
}

impl Failure {
    /// The outcome of the request that could not connect.
    pub(crate) fn outcome(self) -> Outcome {
        match self {
            Failure::Connect => Outcome::ConnectError,
            Failure::Tls => Outcome::TlsError,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
