//! `gatebench k8s SCENARIO --parallelism N`: Kubernetes manifests that run a
//! scenario as N execution segments in an Indexed Job, the way k6-operator runs k6.
//!
//! The manifests are a ConfigMap holding the scenario and the catalogs it names, at
//! the paths the scenario names them by; an Indexed Job (`completionMode: Indexed`,
//! `completions = parallelism = N`) whose pod `i` runs `gatebench run --segment i/N
//! --print-results`; and, with `--with-mocks`, a Deployment and Service of the
//! mocks. Each pod ends its log with its results on one line, and `gatebench merge
//! --from-logs` adds them up from `kubectl logs` (commands in the YAML's header).
//! The YAML is written by serde from JSON values, never pasted together as text.
//!
//! `gatebench k8s --suite SUITE --check NAME` is the same Job for one check of a
//! suite: pod `i` runs `gatebench suite SUITE --check NAME --segment i/N
//! --print-results`, and `gatebench suite SUITE --check NAME --from-logs` takes the
//! check's verdict on the merged segments. The suite is read inside the image (a
//! built-in one, or a file under the image's `scenarios/`), so no ConfigMap.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gatebench_driver::{Kind, ScenarioFile};
use gatebench_suite::SuiteFile;
use gatebench_suite::checks::driven::segmentable;
use gatebench_suite::segment::find_check;
use serde_json::{Value, json};

/// A ConfigMap holds at most 1 MiB.
const CONFIGMAP_LIMIT: usize = 1 << 20;

/// The mocks' ports and names, as `gatebench mock` listens by default.
const MOCK_PORTS: [(&str, u16); 4] = [
    ("openai", 8701),
    ("elevenlabs", 8702),
    ("personality", 8703),
    ("webvtt", 8704),
];

/// Where the pods find the scenario and its catalogs.
const MOUNT: &str = "/gatebench";

/// Options of `gatebench k8s`.
#[derive(Debug, clap::Args)]
pub struct K8sArgs {
    /// Scenario file (TOML); it and the catalogs it names go into the ConfigMap.
    #[arg(required_unless_present = "suite", conflicts_with = "suite")]
    scenario: Option<PathBuf>,
    /// A suite (`focused`, `comprehensive`, `conformance`, `agents`, or a file under
    /// `scenarios/`, where the image has it too) whose check `--check` runs as the
    /// segments.
    #[arg(
        long,
        value_name = "NAME|FILE",
        requires = "check",
        conflicts_with = "duration"
    )]
    suite: Option<String>,
    /// The suite's check to run as segments (one whose verdict comes from a
    /// driven load: load, concurrency, streaming, usage, errors, app).
    #[arg(long, value_name = "NAME", requires = "suite")]
    check: Option<String>,
    /// Segments, run as that many pods at once.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    parallelism: u32,
    /// Container image with the `gatebench` binary (built from the repository's
    /// Dockerfile).
    #[arg(long, default_value = concat!("gatebench:", env!("CARGO_PKG_VERSION")))]
    image: String,
    /// Base URL the pods load (your gateway or service); default: the mocks' OpenAI
    /// Service with `--with-mocks`, else each pod's own embedded stack.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Also deploy the mocks (a Deployment of this many replicas and a Service), e.g.
    /// for a staging gateway to use as its upstreams.
    #[arg(long, value_name = "REPLICAS", value_parser = clap::value_parser!(u32).range(1..=1_000))]
    with_mocks: Option<u32>,
    /// Name of the Job and prefix of the other objects; default: from the scenario's name.
    #[arg(long)]
    name: Option<String>,
    /// Namespace of every object; default: kubectl's current one.
    #[arg(long)]
    namespace: Option<String>,
    /// Seed of every draw, passed to every segment; default: the file's.
    #[arg(long)]
    seed: Option<u64>,
    /// Squeeze the whole file to this length, passed to every segment, e.g. `5m`.
    #[arg(long)]
    duration: Option<String>,
    /// Mocks only: multiply every mock delay by this; the segments of a scenario
    /// then judge its thresholds on real-time equivalents (`run --time-scale`).
    #[arg(long, default_value_t = 1.0, value_parser = crate::mock::time_scale)]
    mock_time_scale: f64,
}

/// A file the pods need: its key in the ConfigMap, its path under the mount, its text.
struct Shipped {
    key: String,
    path: String,
    text: String,
}

/// A DNS-1123 label from any name: lowercase letters, digits and dashes, at most 63.
fn dns_label(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(NAME_MAX).collect();
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "gatebench".to_owned()
    } else {
        out.to_owned()
    }
}

/// A catalog path as the scenario names it, if it can live under the mount: relative,
/// without `..`.
fn mount_path(rel: &Path) -> Option<String> {
    let parts: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Component::Normal(p) => p.to_str(),
            Component::CurDir => Some(""),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let parts: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The scenario and every catalog it names.
fn shipped_files(path: &Path, file: &ScenarioFile) -> anyhow::Result<Vec<Shipped>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut files = vec![Shipped {
        key: "scenario.toml".to_owned(),
        path: "scenario.toml".to_owned(),
        text,
    }];
    let mut seen = BTreeMap::new();
    for request in file.scenarios.iter().flat_map(|s| &s.requests) {
        let (Some(rel), Some(catalog)) = (&request.spec.catalog, &request.catalog) else {
            continue;
        };
        let under = mount_path(rel).with_context(|| {
            format!(
                "request `{}`: catalog `{}` must be a relative path without `..` to ship it in a ConfigMap (pods read it at {MOUNT}/PATH)",
                request.spec.name,
                rel.display()
            )
        })?;
        if seen.insert(under.clone(), ()).is_some() {
            continue;
        }
        let text = std::fs::read_to_string(&catalog.path)
            .with_context(|| format!("reading {}", catalog.path.display()))?;
        files.push(Shipped {
            key: under.replace('/', "__"),
            path: under,
            text,
        });
    }
    let size: usize = files.iter().map(|f| f.key.len() + f.text.len()).sum();
    if size > CONFIGMAP_LIMIT {
        anyhow::bail!(
            "the scenario and its catalogs take {size} bytes, more than a ConfigMap holds (1 MiB): trim the catalogs"
        );
    }
    Ok(files)
}

fn labels(name: &str, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": "gatebench",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
    })
}

fn metadata(name: &str, namespace: Option<&str>, component: &str) -> Value {
    let mut m = json!({ "name": name, "labels": labels(name, component) });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

/// Every object, in the order `kubectl apply` should create them.
fn manifests(args: &K8sArgs, files: &[Shipped], base: &str) -> Vec<Value> {
    let ns = args.namespace.as_deref();
    let config = format!("{base}-scenario");
    let mocks = format!("{base}-mocks");
    let mut out = Vec::new();
    if !files.is_empty() {
        out.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(&config, ns, "scenario"),
            "data": files.iter().map(|f| (f.key.clone(), json!(f.text))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    if let Some(replicas) = args.with_mocks {
        let selector =
            json!({ "app.kubernetes.io/instance": mocks, "app.kubernetes.io/component": "mocks" });
        out.push(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(&mocks, ns, "mocks"),
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": selector },
                "template": {
                    "metadata": { "labels": labels(&mocks, "mocks") },
                    "spec": {
                        "containers": [{
                            "name": "mocks",
                            "image": args.image,
                            "args": ["mock", "--host", "0.0.0.0", "--time-scale", args.mock_time_scale.to_string()],
                            "ports": MOCK_PORTS.iter().map(|(n, p)| json!({ "name": n, "containerPort": p })).collect::<Vec<_>>(),
                            "readinessProbe": { "httpGet": { "path": "/healthz", "port": "openai" } },
                            // bound beyond loopback, the mocks guard their control API
                            // (faults, books) with a token
                            "env": [admin_token_env(base)],
                        }],
                    },
                },
            },
        }));
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(&mocks, ns, "mocks"),
            "spec": {
                "selector": selector,
                "ports": MOCK_PORTS.iter().map(|(n, p)| json!({ "name": n, "port": p, "targetPort": n })).collect::<Vec<_>>(),
            },
        }));
    }
    let mut env = vec![json!({
        "name": "JOB_COMPLETION_INDEX",
        "valueFrom": { "fieldRef": { "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
    })];
    if args.suite.is_some() && args.with_mocks.is_some() {
        // a suite check reads the mocks' books, behind their token
        env.push(admin_token_env(base));
    }
    let mut container = json!({
        "name": "gatebench",
        "image": args.image,
        "args": pod_args(args, &mocks),
        "env": env,
    });
    let mut pod = json!({ "restartPolicy": "Never" });
    if !files.is_empty() {
        container["volumeMounts"] =
            json!([{ "name": "scenario", "mountPath": MOUNT, "readOnly": true }]);
        pod["volumes"] = json!([{
            "name": "scenario",
            "configMap": {
                "name": config,
                "items": files.iter().map(|f| json!({ "key": f.key, "path": f.path })).collect::<Vec<_>>(),
            },
        }]);
    }
    pod["containers"] = json!([container]);
    out.push(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(base, ns, "load"),
        "spec": {
            "completionMode": "Indexed",
            "completions": args.parallelism,
            "parallelism": args.parallelism,
            // a retried pod would send its segment of the load a second time: a
            // failed segment fails the Job, and the merge says which one is missing
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": labels(base, "load") },
                "spec": pod,
            },
        },
    }));
    out
}

/// `GATEBENCH_ADMIN_TOKEN` from the Secret `BASE-admin` (key `token`), which the
/// header says how to create.
fn admin_token_env(base: &str) -> Value {
    json!({
        "name": "GATEBENCH_ADMIN_TOKEN",
        "valueFrom": { "secretKeyRef": { "name": format!("{base}-admin"), "key": "token" } },
    })
}

/// What pod `$(JOB_COMPLETION_INDEX)` runs: its segment of the scenario, or of
/// the suite's check.
fn pod_args(args: &K8sArgs, mocks: &str) -> Vec<String> {
    let segment = format!("$(JOB_COMPLETION_INDEX)/{}", args.parallelism);
    let mocks_url = args
        .with_mocks
        .map(|_| format!("http://{mocks}:{}", MOCK_PORTS[0].1));
    let mut run: Vec<String> = match (&args.suite, &args.check) {
        (Some(suite), Some(check)) => {
            let mut run = vec!["suite".to_owned(), suite.clone()];
            run.extend(["--check".to_owned(), check.clone()]);
            run.extend(["--segment".to_owned(), segment]);
            if let Some(t) = &args.target {
                run.extend(["--target".to_owned(), t.clone()]);
                if let Some(m) = mocks_url {
                    run.extend(["--mocks".to_owned(), m]);
                }
            }
            run
        }
        _ => {
            let mut run = vec![
                "run".to_owned(),
                format!("{MOUNT}/scenario.toml"),
                "--segment".to_owned(),
                segment,
            ];
            if let Some(t) = args.target.clone().or(mocks_url) {
                run.extend(["--target".to_owned(), t]);
            }
            // the load meets the deployed mocks: thresholds judge real time
            if args.with_mocks.is_some() && args.mock_time_scale != 1.0 {
                let scale = args.mock_time_scale.to_string();
                run.extend(["--time-scale".to_owned(), scale]);
            }
            if let Some(d) = &args.duration {
                run.extend(["--duration".to_owned(), d.clone()]);
            }
            run
        }
    };
    run.extend(["--print-results", "--quiet", "--out", "/tmp/gatebench"].map(str::to_owned));
    if let Some(seed) = args.seed {
        run.extend(["--seed".to_owned(), seed.to_string()]);
    }
    run
}

/// What the Job runs: a scenario, or a suite's check.
enum Load<'a> {
    Scenario(&'a Path),
    Check { suite: &'a str, check: &'a str },
}

/// The YAML's header: what it is and how to collect the results.
fn header(args: &K8sArgs, load: &Load<'_>, base: &str) -> String {
    let ns = args
        .namespace
        .as_deref()
        .map_or(String::new(), |n| format!(" -n {n}"));
    let mocks = if args.with_mocks.is_some() {
        format!(
            "#   kubectl create secret{ns} generic {base}-admin --from-literal=token=$(openssl rand -hex 16)\n\
             #   kubectl apply{ns} -f THIS_FILE -l app.kubernetes.io/component=mocks\n\
             #   kubectl rollout status{ns} deployment/{base}-mocks\n"
        )
    } else {
        String::new()
    };
    let (what, merge, verdict) = match load {
        Load::Scenario(path) => (
            path.display().to_string(),
            format!("gatebench merge --from-logs {base}.log --out reports/{base}"),
            "The merge exits 1 if a threshold fails",
        ),
        Load::Check { suite, check } => (
            format!("check `{check}` of suite {suite}"),
            format!(
                "gatebench suite {suite} --check {check} --from-logs {base}.log --out reports/{base}"
            ),
            "The merge takes the check's verdict: it exits 1 if NOT READY",
        ),
    };
    format!(
        "# gatebench: {what} as {n} execution segments in the Indexed Job `{base}`.\n\
         {mocks}\
         #   kubectl apply{ns} -f THIS_FILE\n\
         #   kubectl wait{ns} --for=condition=complete --timeout=-1s job/{base}\n\
         #   kubectl logs{ns} --prefix --tail=-1 --max-log-requests={n} -l app.kubernetes.io/instance={base},app.kubernetes.io/component=load > {base}.log\n\
         #   {merge}\n\
         # {verdict} or a segment is missing (a pod that failed).\n",
        n = args.parallelism,
    )
}

/// Renders the manifests as one multi-document YAML stream.
fn render(
    args: &K8sArgs,
    load: &Load<'_>,
    files: &[Shipped],
    name: &str,
) -> anyhow::Result<String> {
    let base = dns_label(args.name.as_deref().unwrap_or(&format!("gatebench-{name}")));
    let mut out = header(args, load, &base);
    for doc in manifests(args, files, &base) {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&doc).context("writing YAML")?);
    }
    Ok(out)
}

/// Whether `name` is an RFC 1123 DNS label, as Kubernetes wants a namespace: at
/// most 63 lowercase letters, digits and `-`, starting and ending with a letter or
/// digit.
fn is_dns_label(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    name.len() <= 63
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The longest `--name`: the names made from a scenario's are cut to this too,
/// leaving room for what Kubernetes appends to a Job's name for its pods, and
/// for `-scenario`, `-mocks` and `-admin`.
const NAME_MAX: usize = 40;

/// Refuses, by flag, what would make manifests Kubernetes rejects or pods that fail,
/// before anything is printed: manifests piped into `kubectl apply` are applied as
/// they are, and a pod's failure shows only in its log.
fn check_flags(args: &K8sArgs) -> anyhow::Result<()> {
    if let Some(ns) = &args.namespace
        && !is_dns_label(ns)
    {
        anyhow::bail!(
            "--namespace `{ns}` is not a Kubernetes namespace name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        );
    }
    if let Some(name) = &args.name
        && !(is_dns_label(name)
            && name.len() <= NAME_MAX
            && name.starts_with(|c: char| c.is_ascii_lowercase()))
    {
        // a Service's name must start with a letter, and the mocks' is `NAME-mocks`
        anyhow::bail!(
            "--name `{name}` is not a name the Job and the objects named after it can take: at most {NAME_MAX} lowercase letters, digits and '-', starting with a letter and ending with a letter or digit"
        );
    }
    if args.image.trim().is_empty() || args.image.contains(char::is_whitespace) {
        anyhow::bail!(
            "--image `{}` is not a container image reference (e.g. registry.example.com/gatebench:1)",
            args.image
        );
    }
    if let Some(target) = &args.target {
        check_target(target)?;
    }
    if let Some(d) = &args.duration {
        // `run --duration 0s` ignores the override and runs the file's own length:
        // refused here rather than passed on to mean something else in the pods
        crate::parse_positive_duration(d).map_err(|e| anyhow::anyhow!("--duration {d}: {e}"))?;
    }
    Ok(())
}

/// Refuses a `--target` that `gatebench run --target` would refuse in every pod,
/// with the parser the runs use.
fn check_target(target: &str) -> anyhow::Result<()> {
    gatebench_driver::targets::check_base(target).map_err(|e| anyhow::anyhow!("--target: {e}"))
}

/// Runs `gatebench k8s`: the manifests on stdout.
pub fn k8s(args: K8sArgs) -> anyhow::Result<ExitCode> {
    check_flags(&args)?;
    if let (Some(suite), Some(check)) = (&args.suite, &args.check) {
        return k8s_check(&args, suite, check);
    }
    let Some(path) = &args.scenario else {
        anyhow::bail!("name a scenario file, or --suite and --check");
    };
    let file = ScenarioFile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.target.is_none() && args.with_mocks.is_some() {
        // without a gateway in front, the pods load the OpenAI mock, which serves
        // chat, text completions, responses and embeddings (and whatever an `http`
        // request names) only
        let other = file.scenarios.iter().flat_map(|s| &s.requests).find(|r| {
            !(r.spec.kind.generates() || matches!(r.spec.kind, Kind::Embeddings | Kind::Http))
        });
        if let Some(r) = other {
            anyhow::bail!(
                "request `{}` is {}, which the OpenAI mock does not serve: name --target (a gateway in front of the mocks)",
                r.spec.name,
                r.spec.kind.name()
            );
        }
    }
    let files = shipped_files(path, &file)?;
    out!(
        "{}",
        render(&args, &Load::Scenario(path), &files, &file.name)?
    );
    Ok(ExitCode::SUCCESS)
}

/// The Job of a suite's check: the check must exist and be one that segments.
fn k8s_check(args: &K8sArgs, suite: &str, check: &str) -> anyhow::Result<ExitCode> {
    let file = SuiteFile::load(suite).map_err(|e| anyhow::anyhow!("{e}"))?;
    let spec = find_check(&file, check)?;
    if let Err(why) = segmentable(spec) {
        anyhow::bail!("check `{check}` cannot run as segments: {why}");
    }
    if args.with_mocks.is_some() && args.target.is_none() {
        anyhow::bail!(
            "--with-mocks deploys the mocks for a gateway to use as its upstreams: name that gateway with --target (without either, each pod starts its own embedded stack)"
        );
    }
    if args.with_mocks.is_some_and(|n| n > 1) {
        anyhow::bail!(
            "a suite check judges by the mocks' books, and each mock replica keeps its own: deploy one replica (--with-mocks 1)"
        );
    }
    if args.target.is_some() && !spec.faults.is_empty() {
        anyhow::bail!(
            "check `{check}` injects faults into the mocks, which segments against one shared target cannot do (the first segment to end would clear them for the others): leave out --target, so that each pod runs its own embedded stack"
        );
    }
    let load = Load::Check { suite, check };
    let name = format!("{}-{check}", file.name);
    out!("{}", render(args, &load, &[], &name)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(
            dns_label("gatebench-Story Mix_v2"),
            "gatebench-story-mix-v2"
        );
        assert_eq!(dns_label("--"), "gatebench");
        assert!(dns_label(&"x".repeat(100)).len() <= 40);
    }

    #[test]
    fn namespaces_are_dns_labels() {
        for good in ["a", "load", "load-2", "0", &"x".repeat(63)] {
            assert!(is_dns_label(good), "{good}");
        }
        for bad in ["", "a b", "Load", "-a", "a-", "a.b", "a_b", &"x".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn only_relative_paths_ship() {
        assert_eq!(
            mount_path(Path::new("fixtures/prompts/a.toml")).as_deref(),
            Some("fixtures/prompts/a.toml")
        );
        assert_eq!(mount_path(Path::new("./a.toml")).as_deref(), Some("a.toml"));
        assert_eq!(mount_path(Path::new("../a.toml")), None);
        assert_eq!(mount_path(Path::new("/etc/a.toml")), None);
    }
}
