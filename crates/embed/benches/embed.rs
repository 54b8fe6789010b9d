//! Embedding speed: microseconds per text at the dimensions the mock serves.
//!
//! Run with `cargo bench -p gatebench-embed`. Texts range from a short support
//! question to a paragraph of a story, the shapes of the cache's and the mock's
//! traffic.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gatebench_embed::Embedder;

const TEXTS: &[(&str, &str)] = &[
    ("short", "How do I reset my password?"),
    (
        "prompt",
        "Could you tell my kid a bedtime story about a shy little dragon who learns how to make friends?",
    ),
    (
        "paragraph",
        "Once upon a time, at the edge of a great green forest, there lived a small dragon named \
         Ember. Ember was not like the other dragons. While they roared and raced across the sky, \
         Ember liked to sit quietly by the stream and watch the fish. The other dragons laughed at \
         him. A dragon who doesn't roar is not a real dragon, they said. Ember felt sad, but he did \
         not change. One day a storm came, and the young dragons were lost in the clouds. It was \
         Ember, who knew every stream and every stone, who followed the water and led them all \
         safely home.",
    ),
];

fn embed(c: &mut Criterion) {
    let mut group = c.benchmark_group("embed");
    for dims in [256usize, 1536, 3072] {
        let embedder = Embedder::new("text-embedding-3-small", dims);
        let mut out = vec![0.0f32; dims];
        for (name, text) in TEXTS {
            group.throughput(Throughput::Elements(1));
            group.bench_with_input(BenchmarkId::new(*name, dims), text, |b, text| {
                b.iter(|| embedder.embed_into(black_box(text), &mut out));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, embed);
criterion_main!(benches);
