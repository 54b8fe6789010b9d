//! Cost tracker benchmarks: what `record` costs the caller, how fast the writer
//! thread stores entries, and the cost maths.
//!
//! `cargo bench -p gatebench-cost --bench ledger`

use std::hint::black_box;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gatebench_cost::{CacheOutcome, Call, Kind, Ledger, LedgerEntry, PriceBook, Usage, cost};
use rust_decimal::Decimal;

/// A scratch directory for ledger files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("gatebench-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn file(&self) -> String {
        self.0.join("ledger.sqlite").display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn usage() -> Usage {
    Usage {
        prompt_tokens: 1234,
        cached_tokens: 1024,
        completion_tokens: 567,
        ..Usage::default()
    }
}

fn sample_entry(book: &PriceBook, i: u64) -> LedgerEntry {
    let tenant = if i.is_multiple_of(2) { "alpha" } else { "beta" };
    let model = ["gpt-4o-mini", "gpt-4o", "deepseek-chat"][(i % 3) as usize];
    let request_id = format!("req-{i}");
    book.bill(&Call {
        tenant,
        request_id: &request_id,
        provider: None,
        model,
        kind: Kind::Chat,
        usage: usage(),
        cache: if i.is_multiple_of(4) {
            CacheOutcome::Hit
        } else {
            CacheOutcome::Miss
        },
        attempts: 1,
        estimated: false,
        failed: false,
    })
    .expect("bill")
}

/// Caller-side cost of `record`: only the timed calls count; entries are built
/// and the writer is flushed outside the timing, in chunks, so memory stays flat.
fn record(c: &mut Criterion) {
    let book = PriceBook::shipped().expect("price book");
    let scratch = Scratch::new("record");
    let ledger = Ledger::open(&scratch.file()).expect("open");
    let chunk = 10_000_u64;
    c.bench_function("ledger/record (caller side, file ledger)", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = chunk.min(iters - done);
                let entries: Vec<LedgerEntry> = (0..n).map(|i| sample_entry(&book, i)).collect();
                let start = Instant::now();
                for e in entries {
                    black_box(ledger.record(e).expect("record"));
                }
                timed += start.elapsed();
                ledger.flush().expect("flush");
                done += n;
            }
            timed
        });
    });
}

/// Sustained writer throughput: record a block of entries and wait until all
/// of them are committed.
fn writer_throughput(c: &mut Criterion) {
    let book = PriceBook::shipped().expect("price book");
    let block = 20_000_u64;
    let mut group = c.benchmark_group("ledger/writer");
    group.throughput(Throughput::Elements(block));
    group.sample_size(20);
    let scratch = Scratch::new("writer");
    for (name, path) in [("file", scratch.file()), ("memory", ":memory:".to_owned())] {
        let ledger = Ledger::open(&path).expect("open");
        group.bench_function(format!("record+flush {block} entries ({name})"), |b| {
            b.iter_batched(
                || {
                    (0..block)
                        .map(|i| sample_entry(&book, i))
                        .collect::<Vec<_>>()
                },
                |entries| {
                    for e in entries {
                        ledger.record(e).expect("record");
                    }
                    ledger.flush().expect("flush");
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn maths(c: &mut Criterion) {
    let book = PriceBook::shipped().expect("price book");
    let units = book.lookup("gpt-4o-mini").expect("priced").units;
    let u = usage();
    assert_eq!(
        cost(&units, &u).expect("cost"),
        Decimal::from_str("0.0004485").expect("decimal")
    );
    c.bench_function("cost/gpt-4o-mini chat usage", |b| {
        b.iter(|| cost(black_box(&units), black_box(&u)))
    });
    c.bench_function("cost/resolve + cost (price book lookup)", |b| {
        b.iter(|| book.quote(black_box("gpt-4o-mini"), black_box(&u)))
    });
    c.bench_function("cost/bill (entry with owned strings)", |b| {
        b.iter(|| sample_entry(&book, black_box(1)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = record, writer_throughput, maths
}
criterion_main!(benches);
