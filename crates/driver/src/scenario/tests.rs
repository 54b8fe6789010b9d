//! Scenario files: what parses, and errors that name file, line and key.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenario.toml")
}

fn parse(text: &str) -> Result<ScenarioFile, ScenarioError> {
    ScenarioFile::parse(&path(), text)
}

/// Asserts an error at `line` whose key is `key`.
fn fails_at(text: &str, line: usize, key: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error at line {line}, key {key}"),
        Err(e) => {
            let shown = e.to_string();
            assert_eq!((e.line(), e.key()), (line, key), "error was: {shown}");
            assert!(shown.contains("scenario.toml"), "{shown}");
            shown
        }
    }
}

const GOOD: &str = r#"
name = "mix"
seed = 7
[load]
executor = "ramping-arrival-rate"
start_rate = 5
stages = [{ duration = "10s", target = 50 }, { duration = "20s", target = 50 }]
max_vus = 40
max_lateness = "250ms"
[[requests]]
name = "story"
kind = "chat"
stream = true
weight = 3
prompts = "prompts/mini.toml"
priority = "high"
api_key = "gb-alpha-dev"
headers = { "x-gatebench-cache" = "no-cache" }
[[requests]]
name = "voice"
kind = "tts"
texts = "tts/texts.toml"
output_format = "mp3_22050_32"
[[requests]]
name = "health"
kind = "http"
path = "/healthz"
[thresholds]
"latency{request:story}" = ["p95 < 8s", "p99 < 12000"]
errors = [{ threshold = "rate < 1%", abort_on_fail = true, delay_abort_eval = "5s" }]
cache_hit_rate = "rate > 40%"
"#;

#[test]
fn a_full_file_parses() {
    let f = parse(GOOD).unwrap();
    assert_eq!(f.name, "mix");
    assert_eq!(f.seed, 7);
    assert_eq!(f.scenarios.len(), 1);
    let s = &f.scenarios[0];
    assert_eq!(s.name, "mix");
    match &s.load.executor {
        Executor::RampingArrivalRate {
            start_rate,
            stages,
            max_vus,
        } => {
            assert_eq!(*start_rate, 5.0);
            assert_eq!(stages.len(), 2);
            assert_eq!(*max_vus, 40);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.load.max_lateness, Duration::from_millis(250));
    assert_eq!(s.load.timeout, DEFAULT_TIMEOUT);
    assert_eq!(s.requests.len(), 3);
    let story = &s.requests[0];
    assert!(story.spec.stream && story.spec.include_usage);
    assert_eq!(story.spec.model.as_deref(), Some(DEFAULT_CHAT_MODEL));
    assert_eq!(story.catalog.as_ref().unwrap().entries.len(), 3);
    assert_eq!(
        story.spec.headers,
        vec![("x-gatebench-cache".to_owned(), "no-cache".to_owned())]
    );
    assert_eq!(
        s.requests[1].catalog.as_ref().unwrap().entries[0]
            .id
            .as_ref(),
        "greeting"
    );
    assert!(s.requests[2].catalog.is_none());
    assert_eq!(f.thresholds.len(), 4);
    assert!(
        f.thresholds
            .iter()
            .any(|t| t.abort_on_fail && t.delay_abort_eval == Duration::from_secs(5))
    );
    assert_eq!(f.planned_duration(), Duration::from_secs(30));
}

#[test]
fn several_scenarios_with_offsets() {
    let f = parse(
        r#"
[scenarios.warm]
load = { executor = "constant-vus", vus = 2, duration = "10s", think_time = "lognormal(800ms, 3s)" }
requests = [{ name = "a", kind = "http", path = "/a" }]
[scenarios.peak]
load = { executor = "constant-arrival-rate", rate = 1, time_unit = "100ms", duration = "20s", start_time = "10s" }
requests = [{ name = "b", kind = "http", path = "/b", method = "post", body = "{}" }]
"#,
    )
    .unwrap();
    assert_eq!(f.scenarios.len(), 2);
    assert_eq!(f.planned_duration(), Duration::from_secs(30));
    let peak = f.scenarios.iter().find(|s| s.name == "peak").unwrap();
    assert_eq!(
        peak.load.executor,
        Executor::ConstantArrivalRate {
            rate: 10.0,
            duration: Duration::from_secs(20),
            max_vus: DEFAULT_MAX_VUS
        }
    );
    assert_eq!(peak.requests[0].spec.method, http::Method::POST);
    let short = f.with_duration(Duration::from_secs(3));
    assert_eq!(short.planned_duration(), Duration::from_secs(3));
    let peak = short.scenarios.iter().find(|s| s.name == "peak").unwrap();
    assert_eq!(peak.load.start_time, Duration::from_secs(1));
}

#[test]
fn unknown_keys_name_their_line_and_path() {
    fails_at("name = \"x\"\nspeed = 3\n", 2, "speed");
    let e = fails_at(
        "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\nthinktime = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n",
        5,
        "load.thinktime",
    );
    assert!(e.contains("unknown field"), "{e}");
    fails_at(
        "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n[[requests]]\nname = \"b\"\nkind = \"http\"\npath = \"/\"\nstreem = true\n",
        13,
        "requests[1].streem",
    );
}

#[test]
fn wrong_types_and_values_are_located() {
    fails_at(
        "[load]\nexecutor = \"constant-vus\"\nvus = \"many\"\n",
        3,
        "load.vus",
    );
    fails_at(
        "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"ten\"\n",
        4,
        "load.duration",
    );
    fails_at(
        "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\nthink_time = \"gauss(1s)\"\n",
        5,
        "load.think_time",
    );
    fails_at("name = \"x\"\n[load\n", 2, "");
}

/// A semantic error points at the key's own line when the file writes it, else at
/// the table the missing key belongs in.
#[test]
fn semantic_errors_name_the_key() {
    let base =
        |load: &str, req: &str| format!("[load]\n{load}\n[[requests]]\nname = \"a\"\n{req}\n");
    fails_at(
        &base("executor = \"warp\"", "kind = \"http\"\npath = \"/\""),
        2,
        "load.executor",
    );
    fails_at(
        &base(
            "executor = \"constant-arrival-rate\"\nrate = 1\nduration = \"1s\"\nvus = 3",
            "kind = \"http\"\npath = \"/\"",
        ),
        5,
        "load.vus",
    );
    fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1",
            "kind = \"http\"\npath = \"/\"",
        ),
        1,
        "load.duration",
    );
    fails_at(
        &base(
            "executor = \"ramping-vus\"\nstages = []",
            "kind = \"http\"\npath = \"/\"",
        ),
        3,
        "load.stages",
    );
    fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"chat\"",
        ),
        5,
        "requests[0].prompts",
    );
    fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"chat\"\nprompts = \"prompts/missing.toml\"",
        ),
        8,
        "requests[0].prompts",
    );
    fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"http\"",
        ),
        5,
        "requests[0].path",
    );
    let e = fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"http\"\npath = \"/a b\"",
        ),
        8,
        "requests[0].path",
    );
    assert!(e.contains("not a valid URL path"), "{e}");
    fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"tts\"\nmax_tokens = 5",
        ),
        8,
        "requests[0].max_tokens",
    );
    fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"telepathy\"",
        ),
        7,
        "requests[0].kind",
    );
    fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"chat\"\nprompts = \"prompts/mini.toml\"\ninclude_usage = true",
        ),
        9,
        "requests[0].include_usage",
    );
    // only the Responses API continues a conversation by id
    let e = fails_at(
        &base(
            "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
            "kind = \"chat\"\nprompts = \"prompts/mini.toml\"\nturns = 3",
        ),
        9,
        "requests[0].turns",
    );
    assert!(e.contains("does not apply to kind `chat`"), "{e}");
    for turns in [0, 101] {
        let e = fails_at(
            &base(
                "executor = \"constant-vus\"\nvus = 1\nduration = \"1s\"",
                &format!("kind = \"responses\"\nprompts = \"prompts/mini.toml\"\nturns = {turns}"),
            ),
            9,
            "requests[0].turns",
        );
        assert!(e.contains("from 1 to 100"), "{e}");
    }
}

#[test]
fn threshold_errors_point_at_their_key() {
    let head = "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n[thresholds]\n";
    let e = fails_at(
        &format!("{head}latency = [\"p95 <\"]\n"),
        10,
        "thresholds.\"latency\"",
    );
    assert!(e.contains("not a number"), "{e}");
    fails_at(
        &format!("{head}latensy = [\"p95 < 1s\"]\n"),
        10,
        "thresholds.\"latensy\"",
    );
    fails_at(
        &format!("{head}errors = [\"p95 < 1%\"]\n"),
        10,
        "thresholds.\"errors\"",
    );
    let e = fails_at(
        &format!("{head}\n\"latency{{request:nope}}\" = \"p95 < 1s\"\n"),
        11,
        "thresholds.\"latency{request:nope}\"",
    );
    assert!(e.contains("no request is named"), "{e}");
    fails_at(
        &format!("{head}errors = {{ threshold = \"rate < 1%\", abort = true }}\n"),
        10,
        "thresholds.\"errors\"",
    );
}

#[test]
fn duplicate_names_and_bad_catalogs_are_rejected() {
    let dup = "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/x\"\n";
    // the second use is named, where it is written
    let e = fails_at(dup, 10, "requests[1].name");
    assert!(e.contains("used twice"), "{e}");
    let twice = "[scenarios.one.load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[scenarios.one.requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n[scenarios.two.load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[scenarios.two.requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n";
    fails_at(twice, 14, "scenarios.two.requests[0].name");
    // a key written twice is named too
    let key = "[load]\nexecutor = \"constant-vus\"\nvus = 1\nvus = 2\n";
    let e = fails_at(key, 4, "vus");
    assert!(e.contains("duplicate key"), "{e}");
    // a catalog with a bad entry reports the catalog's own file, line and key
    let dir = std::env::temp_dir().join(format!("gatebench-driver-catalog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.toml"), "domain = \"x\"\ndescription = \"y\"\n[[intent]]\nid = \"a\"\ncanonical = \"b\"\nparaphrases = [\"c\"]\nextra = 1\n").unwrap();
    let text = "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"chat\"\nprompts = \"bad.toml\"\n";
    let e = ScenarioFile::parse(&dir.join("s.toml"), text).unwrap_err();
    assert_eq!((e.line(), e.key()), (7, "intent[0].extra"), "{e}");
    assert!(e.to_string().contains("bad.toml"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A syntax error has no key at fault: the message names file and line, with no
/// empty key in between.
#[test]
fn a_syntax_error_names_no_empty_key() {
    let e = parse("name = \"x\"\n[load\nexecutor = \"constant-vus\"\n").unwrap_err();
    let shown = e.to_string();
    assert_eq!((e.line(), e.key()), (2, ""), "{shown}");
    assert!(!shown.contains("``"), "{shown}");
    assert!(shown.contains("scenario.toml:2: "), "{shown}");
}

#[test]
fn degradation_settings_parse_and_bad_ones_name_their_key() {
    let with = |table: &str| format!("{GOOD}[degradation]\n{table}");
    let file = parse(&with(
        "factor = 3.0\nwindow_s = 5\nlatency_threshold_ms = 900\n",
    ))
    .unwrap();
    let d = file.degradation.unwrap();
    assert_eq!(
        (d.factor, d.window_s, d.latency_threshold_ms),
        (3.0, 5, Some(900.0))
    );
    assert_eq!(
        d.baseline_s,
        gatebench_analysis::DegradationConfig::default().baseline_s
    );
    assert_eq!(parse(GOOD).unwrap().degradation, None);
    // the table's first key is on the second line after GOOD's last
    let key_line = GOOD.lines().count() + 2;
    let typo = fails_at(&with("factr = 3.0\n"), key_line, "degradation.factr");
    assert!(typo.contains("factr"), "{typo}");
    fails_at(&with("factor = 0.5\n"), key_line, "degradation.factor");
    fails_at(&with("window_s = 0\n"), key_line, "degradation.window_s");
    let rate = fails_at(
        &with("min_error_rate = 2.0\n"),
        key_line,
        "degradation.min_error_rate",
    );
    assert!(rate.contains("between 0 and 1"), "{rate}");
}

#[test]
fn resources_table_parses_and_unknown_keys_name_file_line_and_key() {
    let with = |table: &str| format!("{GOOD}[resources]\n{table}");
    let file = parse(&with(
        "interval = \"250ms\"\nwatch_processes = [\"postgres\"]\n[resources.thresholds]\nprocess_rss_bytes = { warn = 1_000_000, critical = 2e9 }\n",
    ))
    .unwrap();
    let r = file.resources.unwrap();
    assert_eq!(r.interval, std::time::Duration::from_millis(250));
    assert_eq!(
        r.thresholds.process_rss_bytes.unwrap().warn,
        Some(1_000_000.0)
    );
    assert_eq!(parse(GOOD).unwrap().resources, None);
    let key_line = GOOD.lines().count() + 2;
    let typo = fails_at(
        &with("intervall = \"1s\"\n"),
        key_line,
        "resources.intervall",
    );
    assert!(typo.contains("intervall"), "{typo}");
    fails_at(
        &with("[resources.thresholds]\nprocess_rss = { warn = 1 }\n"),
        key_line + 1,
        "resources.thresholds.process_rss",
    );
    fails_at(
        &with("[resources.thresholds]\nsystem_cpu_percent = { warn = 1, critcal = 2 }\n"),
        key_line + 1,
        "resources.thresholds.system_cpu_percent.critcal",
    );
    let inverted = fails_at(
        &with("[resources.thresholds]\nsystem_cpu_percent = { warn = 90, critical = 80 }\n"),
        key_line + 1,
        "resources.thresholds.system_cpu_percent",
    );
    assert!(inverted.contains("above"), "{inverted}");
    fails_at(
        &with("interval = \"5ms\"\n"),
        key_line,
        "resources.interval",
    );
    fails_at(
        &with("prometheus = { url = \"/metrics\", series = [\"up{\"] }\n"),
        key_line,
        "resources.prometheus.series[0]",
    );
}

/// A rate the driver cannot schedule is refused at the key that asks for it,
/// however it is written: per second, per a short time unit, or a ramp's start or
/// stage; the most it schedules is taken.
#[test]
fn an_arrival_rate_beyond_what_the_driver_schedules_is_refused() {
    let base = |load: &str| {
        format!("[load]\n{load}\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n")
    };
    let shown = fails_at(
        &base("executor = \"constant-arrival-rate\"\nrate = 4294967295\nduration = \"2s\""),
        3,
        "load.rate",
    );
    assert!(shown.contains("4294967295 arrivals a second"), "{shown}");
    assert!(shown.contains("at most 10000000"), "{shown}");
    fails_at(
        &base(
            "executor = \"constant-arrival-rate\"\nrate = 20\ntime_unit = \"1us\"\nduration = \"2s\"",
        ),
        3,
        "load.rate",
    );
    fails_at(
        &base(
            "executor = \"ramping-arrival-rate\"\nstart_rate = 2e7\nstages = [{ duration = \"1s\", target = 1 }]",
        ),
        3,
        "load.start_rate",
    );
    fails_at(
        &base(
            "executor = \"ramping-arrival-rate\"\nstages = [{ duration = \"1s\", target = 1 }, { duration = \"1s\", target = 1e8 }]",
        ),
        3,
        "load.stages",
    );
    let most = base("executor = \"constant-arrival-rate\"\nrate = 10000000\nduration = \"2s\"");
    assert!(parse(&most).is_ok());
}

/// More VUs than a driver can hold are refused at the key that asks for them,
/// before any is allocated; so is an iteration executor given no time to run.
#[test]
fn vus_beyond_what_a_driver_holds_and_no_time_to_iterate_are_refused() {
    let base = |load: &str| {
        format!("[load]\n{load}\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n")
    };
    let shown = fails_at(
        &base("executor = \"constant-vus\"\nvus = 4294967295\nduration = \"1s\""),
        3,
        "load.vus",
    );
    assert!(shown.contains("at most 1000000"), "{shown}");
    fails_at(
        &base("executor = \"ramping-vus\"\nstages = [{ duration = \"2s\", target = 1e12 }]"),
        3,
        "load.stages",
    );
    fails_at(
        &base(
            "executor = \"ramping-vus\"\nstart_vus = 2000000\nstages = [{ duration = \"2s\", target = 1 }]",
        ),
        3,
        "load.start_vus",
    );
    // a fraction of a VU, or none at all, would end the ramp at once
    let shown = fails_at(
        &base("executor = \"ramping-vus\"\nstages = [{ duration = \"2s\", target = 0.4 }]"),
        3,
        "load.stages",
    );
    assert!(shown.contains("whole number; got 0.4"), "{shown}");
    let shown = fails_at(
        &base("executor = \"ramping-vus\"\nstages = [{ duration = \"2s\", target = 0 }]"),
        3,
        "load.stages",
    );
    assert!(shown.contains("no VU would run"), "{shown}");
    let ramp_down = base(
        "executor = \"ramping-vus\"\nstart_vus = 3\nstages = [{ duration = \"2s\", target = 0 }]",
    );
    assert!(parse(&ramp_down).is_ok());
    fails_at(
        &base("executor = \"shared-iterations\"\nvus = 2000000\niterations = 1"),
        3,
        "load.vus",
    );
    fails_at(
        &base(
            "executor = \"constant-arrival-rate\"\nrate = 1\nduration = \"1s\"\nmax_vus = 2000000",
        ),
        5,
        "load.max_vus",
    );
    fails_at(
        &base("executor = \"shared-iterations\"\nvus = 1\niterations = 1\nmax_duration = \"0s\""),
        5,
        "load.max_duration",
    );
    let most = base("executor = \"constant-vus\"\nvus = 1000000\nduration = \"1s\"");
    assert!(parse(&most).is_ok());
}

/// Request values the driver could not send as written are refused at their key:
/// weights whose sum overflows or whose small ones vanish, a temperature JSON has
/// no number for, and a header the driver writes itself.
#[test]
fn request_values_the_driver_cannot_send_as_written_are_refused() {
    let base = |req: &str| {
        format!(
            "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n{req}\n"
        )
    };
    for weight in ["1e308", "1e-320", "-1", "nan"] {
        let shown = fails_at(
            &base(&format!("weight = {weight}")),
            9,
            "requests[0].weight",
        );
        assert!(
            shown.contains("must be 0 or from 0.000001 to 1000000"),
            "{shown}"
        );
    }
    for good in ["0.000001", "70", "1000000"] {
        assert!(parse(&base(&format!("weight = {good}"))).is_ok(), "{good}");
    }
    let chat = |extra: &str| {
        format!(
            "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"chat\"\nprompts = \"prompts/mini.toml\"\n{extra}\n"
        )
    };
    fails_at(&chat("temperature = nan"), 9, "requests[0].temperature");
    let shown = fails_at(&chat("max_tokens = 0"), 9, "requests[0].max_tokens");
    assert!(shown.contains("must be ≥ 1"), "{shown}");
    let shown = fails_at(&chat("priority = \"urgent\""), 9, "requests[0].priority");
    assert!(shown.contains("critical, high, normal, low"), "{shown}");
    let response = chat("max_tokens = 15").replace("\"chat\"", "\"responses\"");
    let shown = fails_at(&response, 9, "requests[0].max_tokens");
    assert!(shown.contains("max_output_tokens"), "{shown}");
    for good in ["max_tokens = 1", "priority = \"low\""] {
        assert!(parse(&chat(good)).is_ok(), "{good}");
    }
    assert!(parse(&response.replace("15", "16")).is_ok());
    for header in [
        "content-length",
        "Transfer-Encoding",
        "connection",
        "upgrade",
    ] {
        let shown = fails_at(
            &base(&format!("headers = {{ \"{header}\" = \"5\" }}")),
            9,
            "requests[0].headers",
        );
        assert!(shown.contains("is set by the driver"), "{shown}");
    }
    assert!(parse(&base("headers = { \"x-team\" = \"a\" }")).is_ok());
}

/// `tools` on a `responses` request: a JSON array of tools, loaded with the
/// scenario; anything else names the file, and the request's key.
#[test]
fn tools_are_a_json_array_of_typed_tools() {
    let dir = std::env::temp_dir().join(format!("gatebench-tools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prompts = path().with_file_name("prompts/mini.toml");
    let scenario = |kind: &str, tools: &str, content: &str| {
        std::fs::write(dir.join(tools), content).unwrap();
        let text = format!(
            "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"{kind}\"\nprompts = {prompts:?}\ntools = \"{tools}\"\n"
        );
        ScenarioFile::parse(&dir.join("s.toml"), &text)
    };
    let good = r#"[{"type": "function", "name": "f"}, {"type": "web_search"}]"#;
    let file = scenario("responses", "good.json", good).unwrap();
    let tools = file.scenarios[0].requests[0].tools.as_deref().unwrap();
    assert_eq!(tools.as_array().unwrap().len(), 2);
    let e = scenario("chat", "good.json", good).unwrap_err();
    assert_eq!(e.key(), "requests[0].tools");
    assert!(
        e.to_string().contains("does not apply to kind `chat`"),
        "{e}"
    );
    for (name, content, said) in [
        ("bad.json", "[{", "not JSON"),
        (
            "empty.json",
            "[]",
            "must be a JSON array of at least one tool",
        ),
        (
            "object.json",
            "{}",
            "must be a JSON array of at least one tool",
        ),
        (
            "untyped.json",
            r#"[{"type": "function"}, {"name": "g"}]"#,
            "tool 1 is not an object with a `type`",
        ),
    ] {
        let e = scenario("responses", name, content).unwrap_err();
        assert_eq!(e.key(), "requests[0].tools", "{e}");
        assert!(
            e.to_string().contains(said) && e.to_string().contains(name),
            "{e}"
        );
    }
    // what each tool returns: a JSON object by tool name, with the tools only
    std::fs::write(dir.join("outputs.json"), r#"{"f": "done", "g": {"n": 1}}"#).unwrap();
    std::fs::write(dir.join("list.json"), "[]").unwrap();
    let with = |kind: &str, lines: &str| {
        let text = format!(
            "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"{kind}\"\nprompts = {prompts:?}\n{lines}\n"
        );
        ScenarioFile::parse(&dir.join("s.toml"), &text)
    };
    let file = with(
        "responses",
        "tools = \"good.json\"\ntool_outputs = \"outputs.json\"",
    )
    .unwrap();
    let outputs = &file.scenarios[0].requests[0].tool_outputs;
    assert_eq!(outputs["f"], "done");
    assert_eq!(outputs["g"], r#"{"n":1}"#);
    let e = with("responses", "tool_outputs = \"outputs.json\"").unwrap_err();
    assert_eq!(e.key(), "requests[0].tool_outputs");
    assert!(e.to_string().contains("applies only with `tools`"), "{e}");
    let e = with(
        "responses",
        "tools = \"good.json\"\ntool_outputs = \"list.json\"",
    )
    .unwrap_err();
    assert_eq!(e.key(), "requests[0].tool_outputs");
    assert!(
        e.to_string().contains("list.json: must be a JSON object"),
        "{e}"
    );
    std::fs::remove_file(dir.join("good.json")).unwrap();
    let text = format!(
        "[load]\nexecutor = \"constant-vus\"\nvus = 1\nduration = \"1s\"\n[[requests]]\nname = \"a\"\nkind = \"responses\"\nprompts = {prompts:?}\ntools = \"good.json\"\n"
    );
    let e = ScenarioFile::parse(&dir.join("s.toml"), &text).unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file that is not UTF-8 is refused at the line and column of its first bad
/// byte, not with the reader's bare "stream did not contain valid UTF-8".
#[test]
fn bytes_that_are_not_utf8_are_named_by_line_and_column() {
    let path = std::env::temp_dir().join(format!("gatebench-latin1-{}.toml", std::process::id()));
    std::fs::write(&path, b"name = \"d\"\n[load]\nexecutor = \"caf\xe9\"\n").unwrap();
    let e = ScenarioFile::load(&path).unwrap_err();
    let _ = std::fs::remove_file(&path);
    assert_eq!(e.line(), 3, "{e}");
    assert!(
        e.to_string()
            .contains("byte 0xe9 at column 16 is not UTF-8"),
        "{e}"
    );
}
