//! Where requests go: a base URL, and optionally one per request kind.
//!
//! Behind a gateway every kind shares one base URL. Straight at the mocks, each
//! provider has its own port, so chat and embeddings go to the OpenAI mock, TTS to the
//! ElevenLabs mock and so on; `http` requests always use the base.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::scenario::Kind;

/// Base URLs of the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    /// Default base URL (`http://host:port`, optionally with a path prefix).
    pub base: String,
    /// Base URL per kind, overriding `base`.
    pub per_kind: BTreeMap<Kind, String>,
}

/// A URL cannot be targeted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Not a URL.
    #[error("`{url}` is not a valid base URL: {reason}")]
    Invalid {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The host name does not resolve.
    #[error("cannot resolve `{host}`: {reason}")]
    Resolve {
        /// Host and port.
        host: String,
        /// Why.
        reason: String,
    },
}

impl Targets {
    /// Every kind to one base URL (a gateway, a user's service, one mock).
    pub fn new(base: impl Into<String>) -> Targets {
        Targets {
            base: base.into(),
            per_kind: BTreeMap::new(),
        }
    }

    /// The four mocks, each on its own base URL; the OpenAI mock is the base.
    pub fn mocks(openai: &str, elevenlabs: &str, personality: &str, webvtt: &str) -> Targets {
        Targets::new(openai)
            .with(Kind::Chat, openai)
            .with(Kind::Embeddings, openai)
            .with(Kind::Tts, elevenlabs)
            .with(Kind::TtsTimestamps, elevenlabs)
            .with(Kind::TtsWs, elevenlabs)
            .with(Kind::Personality, personality)
            .with(Kind::Webvtt, webvtt)
    }

    /// Sends one kind elsewhere.
    pub fn with(mut self, kind: Kind, url: impl Into<String>) -> Targets {
        self.per_kind.insert(kind, url.into());
        self
    }

    /// Base URL for a kind.
    pub fn url_for(&self, kind: Kind) -> &str {
        self.per_kind.get(&kind).map_or(&self.base, String::as_str)
    }
}

/// A parsed, resolved base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The URL as given.
    pub url: String,
    /// `Host` header value.
    pub host: String,
    /// Resolved address.
    pub addr: SocketAddr,
    /// Path prefix without a trailing slash (`""` or `/api`).
    pub prefix: String,
}

/// Splits `http://host[:port][/prefix]`; a trailing `/v1` is dropped because routes
/// already start with it.
pub(crate) fn parse_base(url: &str) -> Result<(String, u16, String), TargetError> {
    let invalid = |reason: &str| TargetError::Invalid {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(invalid(
                "https is not supported: the driver speaks plain HTTP/1.1 (put a TLS-terminating proxy in front or target the service's plain port)",
            ));
        }
        _ => return Err(invalid("expected a URL starting with http://")),
    }
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let mut prefix = uri.path().trim_end_matches('/').to_owned();
    if prefix.ends_with("/v1") {
        prefix.truncate(prefix.len() - 3);
    }
    if uri.query().is_some() {
        return Err(invalid("a base URL has no query"));
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        prefix,
    ))
}

/// Parses and resolves a base URL.
pub(crate) async fn resolve(url: &str) -> Result<Endpoint, TargetError> {
    let (host, port, prefix) = parse_base(url)?;
    let mut addrs = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| TargetError::Resolve {
            host: format!("{host}:{port}"),
            reason: e.to_string(),
        })?;
    let addr = addrs.next().ok_or_else(|| TargetError::Resolve {
        host: format!("{host}:{port}"),
        reason: "no address".into(),
    })?;
    let host_header = if port == 80 {
        host.clone()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Endpoint {
        url: url.to_owned(),
        host: host_header,
        addr,
        prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_host_port_and_prefix() {
        assert_eq!(
            parse_base("http://127.0.0.1:8700").unwrap(),
            ("127.0.0.1".into(), 8700, "".into())
        );
        assert_eq!(
            parse_base("http://127.0.0.1:8700/v1").unwrap(),
            ("127.0.0.1".into(), 8700, "".into())
        );
        assert_eq!(
            parse_base("http://localhost/api/").unwrap(),
            ("localhost".into(), 80, "/api".into())
        );
        assert_eq!(
            parse_base("http://[::1]:9000").unwrap(),
            ("::1".into(), 9000, "".into())
        );
        assert!(parse_base("https://example.com").is_err());
        assert!(parse_base("127.0.0.1:8700").is_err());
        assert!(parse_base("http://h:1/?q=1").is_err());
    }

    #[test]
    fn kinds_fall_back_to_the_base() {
        let t = Targets::mocks("http://a", "http://b", "http://c", "http://d");
        assert_eq!(t.url_for(Kind::Chat), "http://a");
        assert_eq!(t.url_for(Kind::TtsWs), "http://b");
        assert_eq!(t.url_for(Kind::Webvtt), "http://d");
        assert_eq!(t.url_for(Kind::Http), "http://a");
    }
}
