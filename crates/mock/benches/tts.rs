//! What text-to-speech audio costs: rendering one timeline in each codec, and the
//! ElevenLabs mock's request throughput over loopback with delays and limits off.
//!
//! Run with `cargo bench -p gatebench-mock --bench tts`. The rendered text lasts
//! about 13 s of speech (printed once), so `render/*` times divided by that are the
//! cost per second of audio. `http/*` sends 64 requests from 8 concurrent reqwest
//! clients per iteration: `same` repeats one text (what a load test that reuses
//! prompts sends), `varied` makes every text new.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gatebench_mock::elevenlabs::alignment::Timeline;
use gatebench_mock::elevenlabs::audio::Audio;
use gatebench_mock::{MockOptions, MockPorts, Profile, RunningMocks};
use gatebench_wire::elevenlabs::OutputFormat;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

const TEXT: &str = "Once upon a time, at the edge of a great green forest, there lived a small \
    dragon named Ember. While the other dragons roared, Ember liked to sit by the stream \
    and watch the fish. One day a storm came, and it was Ember who led them all home.";

const FORMATS: [&str; 4] = ["mp3_44100_128", "mp3_22050_32", "pcm_44100", "ulaw_8000"];

fn render(c: &mut Criterion) {
    let timeline = Timeline::build(TEXT, 15.0, &mut StdRng::seed_from_u64(3));
    eprintln!("render: {} ms of speech", timeline.duration_ms);
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for name in FORMATS {
        let Some(format) = OutputFormat::parse(name) else {
            continue;
        };
        group.bench_function(name, |b| {
            b.iter(|| Audio::render(black_box(format), &timeline, 180.0));
        });
    }
    group.finish();
}

const REQUESTS: u64 = 64;
const CLIENTS: u64 = 8;

fn http(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut profile = Profile::default();
    profile.elevenlabs.rate_limits.concurrent_requests = 0;
    let mocks = runtime
        .block_on(RunningMocks::start(MockOptions {
            ports: MockPorts::EPHEMERAL,
            time_scale: 0.0,
            seed: 7,
            profile,
            ..Default::default()
        }))
        .expect("mocks start");
    let url = mocks.url("elevenlabs").expect("an ElevenLabs mock");
    let client = gatebench_tls::client();
    let counter = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group("http");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(REQUESTS));
    for name in ["mp3_44100_128", "pcm_24000"] {
        for varied in [false, true] {
            let id = BenchmarkId::new(name, if varied { "varied" } else { "same" });
            let target =
                format!("{url}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM?output_format={name}");
            group.bench_function(id, |b| {
                b.to_async(&runtime).iter(|| {
                    let (client, target, counter) =
                        (client.clone(), target.clone(), Arc::clone(&counter));
                    batch(client, target, counter, varied)
                });
            });
        }
    }
    group.finish();
    runtime.block_on(mocks.shutdown());
}

/// `REQUESTS` requests from `CLIENTS` tasks; every answer must be a 200.
async fn batch(client: reqwest::Client, target: String, counter: Arc<AtomicU64>, varied: bool) {
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, target, counter) = (client.clone(), target.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                for _ in 0..REQUESTS / CLIENTS {
                    let text = if varied {
                        format!("{TEXT} Page {}.", counter.fetch_add(1, Ordering::Relaxed))
                    } else {
                        TEXT.to_owned()
                    };
                    let response = client
                        .post(&target)
                        .json(&serde_json::json!({ "text": text }))
                        .send()
                        .await
                        .expect("the mock answers");
                    assert_eq!(response.status(), 200);
                    black_box(response.bytes().await.expect("a body"));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task");
    }
}

criterion_group!(benches, render, http);
criterion_main!(benches);
