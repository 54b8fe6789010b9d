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
/// One pass over the headers: a response has few, where a lookup per header name
/// hashes each name (a gateway's answer would cost ten).
pub(crate) fn read(headers: &HeaderMap) -> Option<Box<GatewayInfo>> {
    let mut info: Option<Box<GatewayInfo>> = None;
    for (name, value) in headers {
        if *name != SERVER_TIMING && !name.as_str().starts_with("x-gatebench-") {
            continue;
        }
        let info = info.get_or_insert_default();
        let Ok(text) = value.to_str() else {
            continue;
        };
        let text = text.trim();
        // of a repeated header, the first value that reads counts
        if *name == SERVER_TIMING {
            info.server_timing.extend(parse_server_timing(text));
        } else if *name == CACHE {
            info.cache.get_or_insert_with(|| text.to_ascii_lowercase());
        } else if *name == SIMILARITY {
            if info.similarity.is_none() {
                info.similarity = text.parse().ok().filter(|x: &f64| x.is_finite());
            }
        } else if *name == CACHE_KEY {
            info.cache_key.get_or_insert_with(|| text.to_owned());
        } else if *name == COST {
            if info.cost_usd.is_none() {
                info.cost_usd = Decimal::from_str(text).ok();
            }
        } else if *name == PROVIDER {
            info.provider.get_or_insert_with(|| text.to_owned());
        } else if *name == ATTEMPTS {
            if info.attempts.is_none() {
                info.attempts = text.parse().ok();
            }
        } else if *name == MODEL {
            info.model.get_or_insert_with(|| text.to_owned());
        } else if *name == REQUEST_ID {
            info.request_id.get_or_insert_with(|| text.to_owned());
        }
    }
    info
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
        assert_eq!((g.model.as_deref(), g.request_id.as_deref()), (None, None));

        h.append("x-gatebench-provider", "second".parse().unwrap());
        h.append(
            "server-timing",
            "total;dur=3, upstream;dur=2".parse().unwrap(),
        );
        h.insert("x-gatebench-model", "gpt-4o-mini".parse().unwrap());
        h.insert("x-gatebench-request-id", "gw-1".parse().unwrap());
        let g = read(&h).unwrap();
        assert_eq!(g.provider.as_deref(), Some("openai"));
        assert_eq!(g.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(g.request_id.as_deref(), Some("gw-1"));
        assert_eq!(
            g.server_timing,
            vec![
                ("queue".to_owned(), 1.5),
                ("total".to_owned(), 3.0),
                ("upstream".to_owned(), 2.0)
            ]
        );

        let mut other = HeaderMap::new();
        other.insert("x-gatebench-something", "x".parse().unwrap());
        other.insert("content-length", "2".parse().unwrap());
        assert!(read(&other).is_some_and(|g| g.cache.is_none()));
    }
}
