//! TLS for gatebench's clients: one rustls crypto provider (ring) and the client
//! configurations built on it.
//!
//! reqwest is built without a provider of its own (its default, aws-lc-rs, is a C
//! build that doubled the release build's time), so a client made with
//! `reqwest::Client::new()` would panic for want of a process-wide provider. Every
//! gatebench reqwest client starts from [`http_client`] instead, which hands reqwest
//! a finished configuration, so nothing depends on a provider being installed.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls_platform_verifier::BuilderVerifierExt as _;

/// The crypto provider of every gatebench TLS connection.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts the certificates the operating system trusts
/// and offers HTTP/2 and HTTP/1.1, as reqwest's own configuration does.
///
/// When the system's certificates cannot be loaded it trusts none: plain HTTP still
/// works and an `https://` call fails with a certificate error, where reqwest's own
/// configuration would fail to build the client at all.
pub fn platform_config() -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions");
    let mut config = match builder.clone().with_platform_verifier() {
        Ok(builder) => builder.with_no_client_auth(),
        Err(_) => builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// A reqwest client builder whose TLS is [`platform_config`]: the start of every
/// gatebench reqwest client.
#[allow(clippy::disallowed_methods)] // the one place a reqwest builder starts
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(platform_config())
}

/// A client with reqwest's defaults and [`platform_config`]: `reqwest::Client::new()`
/// for gatebench.
///
/// # Panics
///
/// As `reqwest::Client::new()` does, when the resolver cannot load the system's
/// configuration.
pub fn client() -> reqwest::Client {
    http_client()
        .build()
        .expect("reqwest builds a client around a finished TLS configuration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_client_without_a_process_wide_provider() {
        assert!(CryptoProvider::get_default().is_none());
        http_client().build().expect("client");
        client();
    }
}
