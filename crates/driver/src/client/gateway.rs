//! Reading what a gateway says about a response in its headers.
//!
//! Absent headers are fine (a mock or a user's service sends none); malformed values
//! are ignored rather than failing the request, because the request itself succeeded.

use std::str::FromStr;

use gatebench_wire::gateway::{
    ATTEMPTS, CACHE, CACHE_KEY, COST, MODEL, PROVIDER, REQUEST_ID, SERVER_TIMING, SIMILARITY,
};
use http::{HeaderMap, HeaderName};
use rust_decimal::Decimal;

use crate::metrics::GatewayInfo;

/// ElevenLabs' count of billed characters.
pub(crate) const CHARACTER_COST: HeaderName = HeaderName::from_static("character-cost");

/// Collects the `x-gatebench-*` and `server-timing` headers; `None` when there are none.
pub(crate) fn read(headers: &HeaderMap) -> Option<Box<GatewayInfo>> {
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let has_any = headers.contains_key(&SERVER_TIMING)
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("x-gatebench-"));
    if !has_any {
        return None;
    }
    let info = GatewayInfo {
        cache: text(&CACHE).map(str::to_ascii_lowercase),
        similarity: text(&SIMILARITY)
            .and_then(|v| v.parse().ok())
            .filter(|x: &f64| x.is_finite()),
        cache_key: text(&CACHE_KEY).map(str::to_owned),
        cost_usd: text(&COST).and_then(|v| Decimal::from_str(v).ok()),
        provider: text(&PROVIDER).map(str::to_owned),
        attempts: text(&ATTEMPTS).and_then(|v| v.parse().ok()),
        model: text(&MODEL).map(str::to_owned),
        request_id: text(&REQUEST_ID).map(str::to_owned),
        server_timing: headers
            .get_all(&SERVER_TIMING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_server_timing)
            .collect(),
    };
    Some(Box::new(info))
}

/// Parses `queue;dur=1.2, cache;dur=0.3;desc="lookup", total;dur=87.0` into names and
/// durations in milliseconds; entries without a `dur` are skipped.
pub fn parse_server_timing(value: &str) -> Vec<(String, f64)> {
    value
        .split(',')
        .filter_map(|metric| {
            let mut parts = metric.split(';').map(str::trim);
            let name = parts.next().filter(|n| !n.is_empty())?;
            let dur = parts.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("dur"))
                    .then(|| v.trim().trim_matches('"').parse::<f64>().ok())?
            })?;
            dur.is_finite().then(|| (name.to_owned(), dur))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_parts_parse() {
        let parts =
            parse_server_timing("queue;dur=1.2, cache;dur=0.3, upstream;dur=85.1, total;dur=87.0");
        assert_eq!(
            parts,
            vec![
                ("queue".to_owned(), 1.2),
                ("cache".to_owned(), 0.3),
                ("upstream".to_owned(), 85.1),
                ("total".to_owned(), 87.0)
            ]
        );
        assert_eq!(
            parse_server_timing("db;desc=\"x\";dur=\"2.5\""),
            vec![("db".to_owned(), 2.5)]
        );
        assert!(parse_server_timing("miss, ;dur=1, x;dur=abc").is_empty());
    }

    #[test]
    fn gateway_headers_are_read_exactly() {
        let mut h = HeaderMap::new();
        assert!(read(&h).is_none());
        h.insert("x-gatebench-cache", "HIT".parse().unwrap());
        h.insert("x-gatebench-cache-similarity", "0.9731".parse().unwrap());
        h.insert("x-gatebench-cache-key", "story-dragon".parse().unwrap());
        h.insert(
            "x-gatebench-cost-usd",
            "0.000123450000000001".parse().unwrap(),
        );
        h.insert("x-gatebench-provider", "openai".parse().unwrap());
        h.insert("x-gatebench-attempts", "2".parse().unwrap());
        h.insert("server-timing", "queue;dur=1.5".parse().unwrap());
        let g = read(&h).unwrap();
        assert_eq!(g.cache.as_deref(), Some("hit"));
        assert_eq!(g.similarity, Some(0.9731));
        assert_eq!(g.cache_key.as_deref(), Some("story-dragon"));
        assert_eq!(g.cost_usd.unwrap().to_string(), "0.000123450000000001");
        assert_eq!(g.attempts, Some(2));
        assert_eq!(g.server_timing, vec![("queue".to_owned(), 1.5)]);
    }
}
