//! Settings that parse but cannot work are refused, naming the file, the line and
//! the key at fault.

use super::{EMBEDDING_MODELS, MAX_ATTEMPTS, MAX_FAILURE_THRESHOLD, MIN_DIMENSIONS};
use crate::config::GatewayConfig;

/// A tenant and one provider of each kind, then `extra`.
fn config(extra: &str) -> String {
    let provider = |name: &str, kind: &str| {
        format!(
            "[[provider]]\nname = \"{name}\"\nkind = \"{kind}\"\nbase_url = \"http://127.0.0.1:1\"\n"
        )
    };
    format!(
        "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n\n{}{}{}{}\n{extra}",
        provider("openai", "openai"),
        provider("eleven", "elevenlabs"),
        provider("pers", "personality"),
        provider("vtt", "webvtt"),
    )
}

/// Asserts that `text` is refused at the last line holding `at`, naming `key`.
fn refused(text: &str, at: &str, key: &str) -> String {
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(at))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or_else(|| panic!("`{at}` is not in\n{text}"));
    let error = GatewayConfig::from_toml(text, "x.toml")
        .unwrap_err()
        .to_string();
    let expected = format!("x.toml:{line}: `{key}`: ");
    assert!(error.starts_with(&expected), "{expected}: {error}\n{text}");
    error
}

fn accepted(text: &str) {
    if let Err(error) = GatewayConfig::from_toml(text, "x.toml") {
        panic!("{error}\n{text}");
    }
}

/// With the circuit held shut and no backoff, unbounded attempts would retry a
/// failing provider in a tight loop for ever.
#[test]
fn retries_and_the_circuit_breaker_are_bounded() {
    let endless = config(
        "[retry]\nmax_attempts = 4294967295\nbase = \"0\"\n\n[health]\nfailure_threshold = 4294967295\n",
    );
    let error = refused(&endless, "max_attempts", "retry.max_attempts");
    assert!(error.contains(&MAX_ATTEMPTS.to_string()), "{error}");
    let attempts = |n: u32| config(&format!("[retry]\nmax_attempts = {n}\nbase = \"0\"\n"));
    accepted(&attempts(MAX_ATTEMPTS));
    refused(
        &attempts(MAX_ATTEMPTS + 1),
        "max_attempts",
        "retry.max_attempts",
    );
    refused(&attempts(0), "max_attempts", "retry.max_attempts");

    let threshold = |n: u32| config(&format!("[health]\nfailure_threshold = {n}\n"));
    accepted(&threshold(MAX_FAILURE_THRESHOLD));
    for n in [0, MAX_FAILURE_THRESHOLD + 1, u32::MAX] {
        refused(
            &threshold(n),
            "failure_threshold",
            "health.failure_threshold",
        );
    }
}

/// Too few dimensions put unrelated prompts on one another's cached answers (at
/// zero, raised to one, every prompt has similarity 1.0 with every other).
#[test]
fn cache_dimensions_are_bounded_by_the_model() {
    let cache = |model: &str, dims: usize| {
        config(&format!(
            "[cache]\nembedding_model = \"{model}\"\ndimensions = {dims}\n"
        ))
    };
    for dims in [0, 1, MIN_DIMENSIONS - 1, 1537, usize::MAX] {
        refused(
            &cache("text-embedding-3-small", dims),
            "dimensions",
            "cache.dimensions",
        );
    }
    for (model, full, shortens) in EMBEDDING_MODELS {
        accepted(&cache(model, full));
        if shortens {
            accepted(&cache(model, MIN_DIMENSIONS));
        } else {
            refused(
                &cache(model, MIN_DIMENSIONS),
                "dimensions",
                "cache.dimensions",
            );
        }
        refused(&cache(model, full + 1), "dimensions", "cache.dimensions");
    }
}

/// Only the local embedder exists, it imitates known models only, and a cache
/// whose entries cannot stay is refused (`enabled = false` turns it off).
#[test]
fn cache_settings_that_would_do_nothing_are_refused() {
    let error = GatewayConfig::from_toml(&config("[cache]\nembedder = \"upstream\"\n"), "x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("unknown variant `upstream`, expected `local`"),
        "{error}"
    );
    accepted(&config("[cache]\nembedder = \"local\"\n"));
    refused(&config("[cache]\nttl = \"0s\"\n"), "ttl", "cache.ttl");
    refused(
        &config("[cache]\nmax_entries = 0\n"),
        "max_entries",
        "cache.max_entries",
    );
    let error = refused(
        &config("[cache]\nembedding_model = \"nope\"\n"),
        "embedding_model",
        "cache.embedding_model",
    );
    assert!(error.contains("text-embedding-3-small"), "{error}");
}

/// A route the plan would skip (its request then silently served by another
/// provider), or one that another route for the same model overrides.
#[test]
fn routes_that_cannot_be_honoured_are_refused() {
    let route = |model: &str, provider: &str, extra: &str| {
        format!("[[route]]\nmodel = \"{model}\"\nprovider = \"{provider}\"\n{extra}")
    };
    // a chat model at a text-to-speech provider
    let error = refused(
        &config(&route("gpt-4o-mini", "eleven", "")),
        "provider = \"eleven\"",
        "route[0].provider",
    );
    assert!(error.contains("chat model"), "{error}");
    // the same through `upstream_model`, and a text-to-speech model at OpenAI
    refused(
        &config(&route("m", "eleven", "upstream_model = \"gpt-4o\"\n")),
        "provider = \"eleven\"",
        "route[0].provider",
    );
    refused(
        &config(&route("eleven_v3", "openai", "")),
        "provider = \"openai\"",
        "route[0].provider",
    );
    // providers whose requests are never routed by model
    for provider in ["pers", "vtt"] {
        refused(
            &config(&route("m", provider, "")),
            "provider = ",
            "route[0].provider",
        );
    }
    // a fallback of another kind, or to a model of another kind
    refused(
        &config(&route(
            "gpt-4o",
            "openai",
            "fallbacks = [{ provider = \"eleven\", model = \"eleven_v3\" }]\n",
        )),
        "fallbacks",
        "route[0].fallbacks[0].provider",
    );
    refused(
        &config(&route(
            "gpt-4o",
            "openai",
            "fallbacks = [{ provider = \"openai\", model = \"gpt-4o-mini\" }, { provider = \"openai\", model = \"eleven_v3\" }]\n",
        )),
        "fallbacks",
        "route[0].fallbacks[1].model",
    );
    // two routes for one model: the second would silently win
    let twice = config(&format!(
        "{}\n{}",
        route("gpt-4o", "openai", ""),
        route("gpt-4o", "openai", "upstream_model = \"gpt-4o-mini\"\n")
    ));
    let error = refused(&twice, "model = \"gpt-4o\"", "route[1].model");
    assert!(error.contains("route[0]"), "{error}");

    // what can be honoured
    accepted(&config(&route(
        "gpt-4o",
        "openai",
        "fallbacks = [{ provider = \"openai\", model = \"gpt-4o-mini\" }]\n",
    )));
    accepted(&config(&route("eleven_v3", "eleven", "")));
    accepted(&config(&route("text-embedding-3-large", "openai", "")));
    // models no price file knows are the operator's to name
    accepted(&config(&route("my-voice", "eleven", "")));
}

#[test]
fn zero_timeouts_are_refused() {
    let provider = |key: &str| {
        format!(
            "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n\n[[provider]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1\"\n{key} = \"0\"\n"
        )
    };
    refused(&provider("timeout"), "timeout", "provider[0].timeout");
    refused(
        &provider("connect_timeout"),
        "connect_timeout",
        "provider[0].connect_timeout",
    );
}

/// Checks that used to fail only when the gateway started, without a line.
#[test]
fn queue_and_fallback_price_errors_name_their_key() {
    let error = refused(&config("[queue]\naging = \"0\"\n"), "aging", "queue.aging");
    assert!(!error.contains("provider"), "{error}");
    let error = refused(
        &config(
            "[pricing.fallback]\ninput_per_million = \"30\"\ncached_input_per_million = \"30\"\noutput_per_million = \"-60\"\nper_thousand_characters = \"0.10\"\nper_request = \"0.0004\"\n",
        ),
        "output_per_million",
        "pricing.fallback.output_per_million",
    );
    assert!(
        error.contains("-60") && error.contains("negative"),
        "{error}"
    );
    refused(
        &config(
            "[pricing.fallback]\ninput_per_million = \"30\"\ncached_input_per_million = \"30\"\noutput_per_million = \"60\"\nper_thousand_characters = \"0.10\"\nper_request = \"0.00000000000001\"\n",
        ),
        "per_request",
        "pricing.fallback.per_request",
    );
}
