//! Where requests go: a base URL, and optionally one per request kind.
//!
//! Behind a gateway every kind shares one base URL. Straight at the mocks, each
//! provider has its own port, so chat and embeddings go to the OpenAI mock, TTS to the
//! ElevenLabs mock and so on; `http` requests always use the base.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::client::tls::{Tls, Trust};
use crate::scenario::Kind;

/// Base URLs of the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    /// Default base URL (`http://host:port` or `https://...`, optionally with a path
    /// prefix).
    pub base: String,
    /// Base URL per kind, overriding `base`.
    pub per_kind: BTreeMap<Kind, String>,
    /// Certificates `https://` targets may present.
    pub trust: Trust,
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
    /// The TLS settings cannot be used (an unreadable CA file, a bad server name).
    #[error("`{url}`: {reason}")]
    Tls {
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
            trust: Trust::default(),
        }
    }

    /// Which certificates `https://` targets may present.
    pub fn with_trust(mut self, trust: Trust) -> Targets {
        self.trust = trust;
        self
    }

    /// The four mocks, each on its own base URL; the OpenAI mock is the base.
    pub fn mocks(openai: &str, elevenlabs: &str, personality: &str, webvtt: &str) -> Targets {
        Targets::new(openai)
            .with(Kind::Chat, openai)
            .with(Kind::Completions, openai)
            .with(Kind::Responses, openai)
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
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    /// The URL as given.
    pub url: String,
    /// `Host` header value.
    pub host: String,
    /// Resolved address.
    pub addr: SocketAddr,
    /// Path prefix without a trailing slash (`""` or `/api`).
    pub prefix: String,
    /// TLS, for `https://`.
    pub tls: Option<Arc<Tls>>,
}

/// The parts of a base URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Base {
    /// `https://`.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (80 or 443 by default).
    pub port: u16,
    /// Path prefix without a trailing slash.
    pub prefix: String,
}

/// Splits `http[s]://host[:port][/prefix]`; a trailing `/v1` is dropped because routes
/// already start with it.
pub(crate) fn parse_base(url: &str) -> Result<Base, TargetError> {
    let invalid = |reason: &str| TargetError::Invalid {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(invalid("expected a URL starting with http:// or https://")),
    };
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    // what the URL writes after its host's last `:` (outside an IPv6 address's
    // brackets): `port_u16` is None for a port past 65535 as for none at all, and
    // the default port is not what was asked for
    let host_and_port = uri.authority().map_or("", |a| a.as_str());
    let host_and_port = host_and_port
        .rsplit_once('@')
        .map_or(host_and_port, |(_, h)| h);
    let written = host_and_port
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|port| !port.contains(']') && !port.is_empty());
    let port = match written.map(|text| (text, text.parse::<u16>())) {
        None => {
            if tls {
                443
            } else {
                80
            }
        }
        Some((_, Ok(port))) if port > 0 => port,
        Some((text, _)) => return Err(invalid(&format!("`{text}` is not a port (1 to 65535)"))),
    };
    let mut prefix = uri.path().trim_end_matches('/').to_owned();
    if prefix.ends_with("/v1") {
        prefix.truncate(prefix.len() - 3);
    }
    if uri.query().is_some() {
        return Err(invalid("a base URL has no query"));
    }
    Ok(Base {
        tls,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        prefix,
    })
}

/// Checks a base URL the way a run does before it resolves it (scheme, host, a
/// port from 1 to 65535, no query), for commands that pass one on to runs
/// elsewhere, such as `gatebench k8s --target`.
pub fn check_base(url: &str) -> Result<(), TargetError> {
    parse_base(url).map(drop)
}

/// Parses and resolves a base URL.
pub(crate) async fn resolve(url: &str, trust: &Trust) -> Result<Endpoint, TargetError> {
    let Base {
        tls,
        host,
        port,
        prefix,
    } = parse_base(url)?;
    let tls = if tls {
        let tls = Tls::new(&host, trust).map_err(|reason| TargetError::Tls {
            url: url.to_owned(),
            reason,
        })?;
        Some(Arc::new(tls))
    } else {
        None
    };
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
    let default_port = if tls.is_some() { 443 } else { 80 };
    let host_header = if port == default_port {
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
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_host_port_and_prefix() {
        let base = |tls: bool, host: &str, port: u16, prefix: &str| Base {
            tls,
            host: host.into(),
            port,
            prefix: prefix.into(),
        };
        assert_eq!(
            parse_base("http://127.0.0.1:8700").unwrap(),
            base(false, "127.0.0.1", 8700, "")
        );
        assert_eq!(
            parse_base("http://127.0.0.1:8700/v1").unwrap(),
            base(false, "127.0.0.1", 8700, "")
        );
        assert_eq!(
            parse_base("http://localhost/api/").unwrap(),
            base(false, "localhost", 80, "/api")
        );
        assert_eq!(
            parse_base("http://[::1]:9000").unwrap(),
            base(false, "::1", 9000, "")
        );
        assert_eq!(
            parse_base("https://example.com/v1").unwrap(),
            base(true, "example.com", 443, "")
        );
        assert!(parse_base("ftp://example.com").is_err());
        assert!(parse_base("127.0.0.1:8700").is_err());
        assert!(parse_base("http://h:1/?q=1").is_err());
        assert_eq!(
            parse_base("http://[::1]").unwrap(),
            base(false, "::1", 80, "")
        );
    }

    /// A port past 65535 (or 0) is refused, not replaced by the default port.
    #[test]
    fn a_port_that_is_not_one_is_refused() {
        for url in [
            "http://127.0.0.1:99999",
            "http://127.0.0.1:0",
            "https://[::1]:70000/v1",
        ] {
            let e = parse_base(url).unwrap_err().to_string();
            assert!(e.contains("is not a port (1 to 65535)"), "{url}: {e}");
        }
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
