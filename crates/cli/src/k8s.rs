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

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gatebench_driver::{Kind, ScenarioFile};
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
    scenario: PathBuf,
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
    /// Mocks only: multiply every mock delay by this.
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
    let out: String = out.trim_matches('-').chars().take(40).collect();
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
    out.push(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(&config, ns, "scenario"),
        "data": files.iter().map(|f| (f.key.clone(), json!(f.text))).collect::<serde_json::Map<_, _>>(),
    }));
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
    let scenario = format!("{MOUNT}/scenario.toml");
    let mut run = vec![
        "run".to_owned(),
        scenario,
        "--segment".to_owned(),
        format!("$(JOB_COMPLETION_INDEX)/{}", args.parallelism),
        "--print-results".to_owned(),
        "--quiet".to_owned(),
        "--out".to_owned(),
        "/tmp/gatebench".to_owned(),
    ];
    let target = args.target.clone().or_else(|| {
        args.with_mocks
            .map(|_| format!("http://{mocks}:{}", MOCK_PORTS[0].1))
    });
    if let Some(t) = target {
        run.extend(["--target".to_owned(), t]);
    }
    if let Some(seed) = args.seed {
        run.extend(["--seed".to_owned(), seed.to_string()]);
    }
    if let Some(d) = &args.duration {
        run.extend(["--duration".to_owned(), d.clone()]);
    }
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
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "gatebench",
                        "image": args.image,
                        "args": run,
                        "env": [{
                            "name": "JOB_COMPLETION_INDEX",
                            "valueFrom": { "fieldRef": { "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
                        }],
                        "volumeMounts": [{ "name": "scenario", "mountPath": MOUNT, "readOnly": true }],
                    }],
                    "volumes": [{
                        "name": "scenario",
                        "configMap": {
                            "name": config,
                            "items": files.iter().map(|f| json!({ "key": f.key, "path": f.path })).collect::<Vec<_>>(),
                        },
                    }],
                },
            },
        },
    }));
    out
}

/// The YAML's header: what it is and how to collect the results.
fn header(args: &K8sArgs, base: &str) -> String {
    let ns = args
        .namespace
        .as_deref()
        .map_or(String::new(), |n| format!(" -n {n}"));
    let mocks = if args.with_mocks.is_some() {
        format!(
            "#   kubectl apply{ns} -f THIS_FILE -l app.kubernetes.io/component=mocks\n\
             #   kubectl rollout status{ns} deployment/{base}-mocks\n"
        )
    } else {
        String::new()
    };
    format!(
        "# gatebench: {scenario} as {n} execution segments in the Indexed Job `{base}`.\n\
         {mocks}\
         #   kubectl apply{ns} -f THIS_FILE\n\
         #   kubectl wait{ns} --for=condition=complete --timeout=-1s job/{base}\n\
         #   kubectl logs{ns} --prefix --tail=-1 --max-log-requests={n} -l app.kubernetes.io/instance={base},app.kubernetes.io/component=load > {base}.log\n\
         #   gatebench merge --from-logs {base}.log --out reports/{base}\n\
         # The merge exits 1 if a threshold fails or a segment is missing (a pod that failed).\n",
        scenario = args.scenario.display(),
        n = args.parallelism,
    )
}

/// Renders the manifests as one multi-document YAML stream.
fn render(args: &K8sArgs, file: &ScenarioFile) -> anyhow::Result<String> {
    let files = shipped_files(&args.scenario, file)?;
    let base = dns_label(
        args.name
            .as_deref()
            .unwrap_or(&format!("gatebench-{}", file.name)),
    );
    let mut out = header(args, &base);
    for doc in manifests(args, &files, &base) {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&doc).context("writing YAML")?);
    }
    Ok(out)
}

/// Runs `gatebench k8s`: the manifests on stdout.
pub fn k8s(args: K8sArgs) -> anyhow::Result<ExitCode> {
    if let Some(d) = &args.duration {
        crate::parse_duration(d).map_err(|e| anyhow::anyhow!("--duration {d}: {e}"))?;
    }
    let file = ScenarioFile::load(&args.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.target.is_none() && args.with_mocks.is_some() {
        // without a gateway in front, the pods load the OpenAI mock, which serves
        // chat and embeddings (and whatever an `http` request names) only
        let other = file
            .scenarios
            .iter()
            .flat_map(|s| &s.requests)
            .find(|r| !matches!(r.spec.kind, Kind::Chat | Kind::Embeddings | Kind::Http));
        if let Some(r) = other {
            anyhow::bail!(
                "request `{}` is {}, which the OpenAI mock does not serve: name --target (a gateway in front of the mocks)",
                r.spec.name,
                r.spec.kind.name()
            );
        }
    }
    print!("{}", render(&args, &file)?);
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
