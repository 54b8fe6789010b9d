//! The route list against the gateway's router, and every probe against the
//! embedded stack.

use serde_json::Value;

use super::probes::{self, ROUTES};

/// The route list is the router's: every `.route("PATH", METHOD(` of the gateway.
#[test]
fn the_route_list_matches_the_gateway_router() {
    let source = include_str!("../../../../gateway/src/lib.rs");
    let router = source
        .split("pub fn router")
        .nth(1)
        .and_then(|s| s.split(".fallback(").next())
        .unwrap();
    let mut found = Vec::new();
    for route in router.split(".route(").skip(1) {
        let path = route.split('"').nth(1).unwrap();
        let method = if route.contains("get(") {
            "GET"
        } else {
            "POST"
        };
        found.push(format!("{method} {path}"));
    }
    let listed: Vec<String> = ROUTES
        .iter()
        .filter(|r| **r != probes::FALLBACK)
        .map(|r| (*r).to_owned())
        .collect();
    assert_eq!(found, listed);
}

/// Every probe, against the embedded stack of the comprehensive suite's check, with
/// the mocks' delays off; then against a target that is not a gateway (the OpenAI
/// mock itself), which must fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_gateway_answers_every_probe_and_a_bare_provider_does_not() {
    use crate::checks::{self, Ctx};
    use crate::file::SuiteFile;
    use crate::subject::Subject;

    let mut suite = SuiteFile::load("comprehensive").unwrap();
    suite.time_scale = 0.0;
    let spec = suite
        .checks
        .iter()
        .find(|c| c.name == "endpoint_coverage")
        .unwrap()
        .clone();
    let out = std::env::temp_dir().join(format!("gatebench-endpoints-{}", std::process::id()));
    let subject = Subject::embedded(&suite, &spec, 42, &out).await.unwrap();
    let ctx = Ctx {
        suite: &suite,
        spec: &spec,
        subject: &subject,
        seed: 42,
        out: &out,
        segment: gatebench_driver::Segment::WHOLE,
    };
    let outcome = checks::run(&ctx).await;

    let openai = subject.books.as_ref().unwrap().urls()["openai"].clone();
    let bare = Subject::external(
        &openai,
        &subject.keys,
        crate::TargetProfile::load("generic").unwrap(),
        None,
    );
    let ctx = Ctx {
        subject: &bare,
        ..ctx
    };
    let refused = checks::run(&ctx).await;
    subject.shutdown().await;
    let _ = std::fs::remove_dir_all(&out);
    assert!(!refused.result.passed);
    let routes = &refused.result.criteria[1];
    assert!(
        !routes.passed && routes.measured.contains("GET /v1/gatebench/usage"),
        "{}",
        routes.measured
    );

    let table = serde_json::to_string_pretty(&outcome.result.evidence.details).unwrap();
    let probes = outcome.result.evidence.details.as_array().unwrap();
    assert!(probes.len() >= 40, "{table}");
    let failed: Vec<&Value> = probes.iter().filter(|p| p["passed"] == false).collect();
    assert!(
        failed.is_empty(),
        "{}\n{table}",
        outcome.result.evidence.summary
    );
    assert!(outcome.result.passed, "{}", outcome.result.measured);
    assert_eq!(outcome.result.criteria[0].value, Some(100.0));
}
