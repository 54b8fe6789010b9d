//! Calibrates the semantic cache's similarity threshold on the prompt catalogs.
//!
//! Every prompt of `fixtures/prompts/` is embedded at 1536 dimensions with model
//! `text-embedding-3-small` and the threshold is swept from 0.50 to 0.99 in two
//! views of the cache (see `common/sweep.rs`): *nearest* (each prompt's nearest
//! other prompt is a hit at or above the threshold, a true hit when it has the same
//! intent) and *replay* (prompts arrive in a fixed shuffled order against a cache of
//! earlier misses, so a new question meets only other questions). The targets, in
//! both views: false hits ≤ 1 % of hits and recall ≥ 90 %. The chosen threshold has
//! the best replay F1 among those meeting the targets in both views, at the
//! threshold and 0.02 below it (a margin, so that the choice does not sit on the
//! edge of the false-hit limit); [`CALIBRATED_THRESHOLD`] must meet the targets too
//! and stay next to the chosen one.
//! Run with `--nocapture` to see the distributions, the confusions and the sweep.

mod common;

use common::sweep::{
    Matrix, Row, nearest_row, nearest_row_of, percentiles, replay_row_of, shuffled,
};
use common::{Prompt, flatten, load_catalogs};
use gatebench_embed::{CALIBRATED_THRESHOLD, Embedder};

const MAX_FALSE_HIT_RATE: f64 = 0.01;
const MIN_RECALL: f64 = 0.90;
/// Replay orders: the replay view sums its counts over these shuffles, so the
/// threshold does not hang on one lucky order.
const REPLAY_SEEDS: [u64; 4] = [0x5eed_cafe, 0x0ddb_a110, 0x00de_c0de, 0xfee1_900d];
const CONFUSIONS_SHOWN: usize = 20;
const STABILITY_MARGIN: f32 = 0.02;
/// `STABILITY_MARGIN` in steps of the sweep (0.01).
const MARGIN_STEPS: usize = 2;

/// The replay view over every order, counts summed.
fn replay_all(prompts: &[Prompt], m: &Matrix, orders: &[Vec<usize>], threshold: f32) -> Row {
    replay_all_of(prompts, m, orders, threshold, |_| true)
}

/// The replay view over every order, counting only the lookups of prompts
/// `counted` accepts.
fn replay_all_of(
    prompts: &[Prompt],
    m: &Matrix,
    orders: &[Vec<usize>],
    threshold: f32,
    counted: impl Fn(usize) -> bool + Copy,
) -> Row {
    orders.iter().fold(
        Row {
            threshold,
            ..Row::default()
        },
        |acc, order| {
            let r = replay_row_of(prompts, m, order, threshold, counted);
            Row {
                threshold,
                hits: acc.hits + r.hits,
                true_hits: acc.true_hits + r.true_hits,
                answerable: acc.answerable + r.answerable,
            }
        },
    )
}

fn meets(r: &Row) -> bool {
    r.meets(MAX_FALSE_HIT_RATE, MIN_RECALL)
}

#[test]
fn calibrated_threshold_separates_paraphrases_from_other_questions() {
    let catalogs = load_catalogs();
    let (prompts, ids) = flatten(&catalogs);
    let embedder = Embedder::new("text-embedding-3-small", 1536);
    let vectors: Vec<Vec<f32>> = prompts.iter().map(|p| embedder.embed(&p.text)).collect();
    let m = Matrix::new(&vectors);
    println!("prompts: {}, intents: {}", prompts.len(), ids.len());
    print_distributions(&prompts, &m);

    let nn = m.nearest(&prompts, |_, _| true);
    report_confusions(&prompts, &ids, &m);
    let orders: Vec<Vec<usize>> = REPLAY_SEEDS
        .iter()
        .map(|&s| shuffled(prompts.len(), s))
        .collect();

    println!("\n          | nearest view                           | replay view");
    println!(
        "threshold | hits false  false-hit  recall     f1   | hits false  false-hit  recall     f1"
    );
    let mut rows = Vec::new();
    for t in 50..=99 {
        let t = t as f32 / 100.0;
        let (a, b) = (
            nearest_row(&prompts, &nn, t),
            replay_all(&prompts, &m, &orders, t),
        );
        println!(
            "  {t:.2}    | {:>4} {:>5}   {:>6.2}%   {:.4}  {:.4} | {:>4} {:>5}   {:>6.2}%   {:.4}  {:.4}{}",
            a.hits,
            a.false_hits(),
            100.0 * a.false_hit_rate(),
            a.recall(),
            a.f1(),
            b.hits,
            b.false_hits(),
            100.0 * b.false_hit_rate(),
            b.recall(),
            b.f1(),
            if meets(&a) && meets(&b) {
                ""
            } else {
                "  (misses targets)"
            }
        );
        rows.push((a, b));
    }
    print_by_catalog(&prompts, &m, &nn, &orders, CALIBRATED_THRESHOLD);

    // A threshold qualifies when the targets hold at it and STABILITY_MARGIN below
    // it: best F1 alone sits on the edge of the false-hit limit, where a slightly
    // different mix of traffic would cross it.
    let holds = |i: usize, t: f32| match i.checked_sub(MARGIN_STEPS) {
        Some(j) => meets(&rows[j].0) && meets(&rows[j].1),
        None => {
            meets(&nearest_row(&prompts, &nn, t)) && meets(&replay_all(&prompts, &m, &orders, t))
        }
    };
    let feasible = rows
        .iter()
        .enumerate()
        .filter(|(i, (a, b))| meets(a) && meets(b) && holds(*i, a.threshold - STABILITY_MARGIN))
        .map(|(_, r)| *r)
        .max_by(|x, y| x.1.f1().total_cmp(&y.1.f1()));
    let Some((best_nearest, best_replay)) = feasible else {
        let (_, closest) = rows
            .iter()
            .max_by(|x, y| x.1.f1().total_cmp(&y.1.f1()))
            .copied()
            .unwrap_or_default();
        print_replay_failures(&prompts, &ids, &m, &orders[0], closest.threshold);
        panic!("no threshold meets false hits <= 1 % and recall >= 90 % in both views");
    };
    for (name, r) in [("nearest", best_nearest), ("replay", best_replay)] {
        println!(
            "chosen {:.2}, {name} view: precision {:.4} (false-hit rate {:.2} %), recall {:.4}, f1 {:.4}",
            r.threshold,
            r.precision(),
            100.0 * r.false_hit_rate(),
            r.recall(),
            r.f1()
        );
    }

    print_replay_failures(&prompts, &ids, &m, &orders[0], best_replay.threshold);

    let configured = [
        nearest_row(&prompts, &nn, CALIBRATED_THRESHOLD),
        replay_all(&prompts, &m, &orders, CALIBRATED_THRESHOLD),
    ];
    for r in &configured {
        println!(
            "CALIBRATED_THRESHOLD {:.2}: precision {:.4}, false-hit rate {:.2} %, recall {:.4}",
            r.threshold,
            r.precision(),
            100.0 * r.false_hit_rate(),
            r.recall()
        );
        assert!(
            meets(r),
            "CALIBRATED_THRESHOLD {CALIBRATED_THRESHOLD} misses the targets: false-hit rate {:.4}, recall {:.4}",
            r.false_hit_rate(),
            r.recall()
        );
    }
    assert!(
        (CALIBRATED_THRESHOLD - best_replay.threshold).abs() <= 0.025,
        "CALIBRATED_THRESHOLD {CALIBRATED_THRESHOLD} has drifted from the best threshold {:.2}; update it",
        best_replay.threshold
    );
}

/// Both views at `threshold`, counting each catalog's lookups on their own (the
/// cache holds every catalog's prompts, as it would hold all traffic).
fn print_by_catalog(
    prompts: &[Prompt],
    m: &Matrix,
    nn: &[Option<(usize, f32)>],
    orders: &[Vec<usize>],
    threshold: f32,
) {
    println!("\nat {threshold:.2}, by catalog of the lookup:");
    let mut domains: Vec<&str> = prompts.iter().map(|p| p.domain.as_str()).collect();
    domains.dedup();
    for domain in domains {
        let of = |i: usize| prompts[i].domain == domain;
        let (a, b) = (
            nearest_row_of(prompts, nn, threshold, of),
            replay_all_of(prompts, m, orders, threshold, of),
        );
        println!(
            "  {domain:<15} nearest: false-hit rate {:>5.2} %, recall {:.4} | replay: false-hit rate {:>5.2} %, recall {:.4}",
            100.0 * a.false_hit_rate(),
            a.recall(),
            100.0 * b.false_hit_rate(),
            b.recall()
        );
    }
}

fn print_distributions(prompts: &[Prompt], m: &Matrix) {
    let (mut same, mut other, mut other_domain) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..m.n {
        for j in (i + 1)..m.n {
            let s = m.get(i, j);
            if prompts[i].intent == prompts[j].intent {
                same.push(s);
            } else {
                other.push(s);
                if prompts[i].domain == prompts[j].domain {
                    other_domain.push(s);
                }
            }
        }
    }
    println!("same-intent pairs:                 {}", percentiles(same));
    println!("different-intent pairs (all):      {}", percentiles(other));
    println!(
        "different-intent, same domain:     {}",
        percentiles(other_domain)
    );
    let same_nn = m.nearest(prompts, |i, j| prompts[i].intent == prompts[j].intent);
    let other_nn = m.nearest(prompts, |i, j| prompts[i].intent != prompts[j].intent);
    let sims = |v: Vec<Option<(usize, f32)>>| v.into_iter().flatten().map(|(_, s)| s).collect();
    println!(
        "nearest same-intent prompt:        {}",
        percentiles(sims(same_nn))
    );
    println!(
        "nearest different-intent prompt:   {}",
        percentiles(sims(other_nn))
    );
}

/// Prints the closest prompts of different intents and the loneliest paraphrases:
/// where the embedder or a catalog needs work when the targets are missed.
fn report_confusions(prompts: &[Prompt], ids: &[String], m: &Matrix) {
    let other = m.nearest(prompts, |i, j| prompts[i].intent != prompts[j].intent);
    let mut wrong: Vec<(usize, usize, f32)> = other
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.map(|(j, s)| (i, j, s)))
        .filter(|(i, j, _)| i < j || other[*j].is_none_or(|(k, _)| k != *i))
        .collect();
    wrong.sort_by(|a, b| b.2.total_cmp(&a.2));
    println!("\nclosest prompts of different intents, highest first:");
    for (i, j, s) in wrong.iter().take(CONFUSIONS_SHOWN) {
        println!(
            "  {s:.3}  [{}] {:?}\n         [{}] {:?}",
            ids[prompts[*i].intent], prompts[*i].text, ids[prompts[*j].intent], prompts[*j].text
        );
    }
    let same = m.nearest(prompts, |i, j| prompts[i].intent == prompts[j].intent);
    let mut lonely: Vec<(usize, f32)> = same
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.map(|(_, s)| (i, s)))
        .collect();
    lonely.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!("\nlowest nearest-paraphrase similarities:");
    for (i, s) in lonely.iter().take(CONFUSIONS_SHOWN) {
        println!(
            "  {s:.3}  [{}] {:?}",
            ids[prompts[*i].intent], prompts[*i].text
        );
    }
}

/// The replay's false hits and missed paraphrases at `threshold`.
fn print_replay_failures(
    prompts: &[Prompt],
    ids: &[String],
    m: &Matrix,
    order: &[usize],
    threshold: f32,
) {
    let (false_hits, misses) = common::sweep::replay_failures(prompts, m, order, threshold);
    let show = |label: &str, list: &[(usize, usize, f32)]| {
        println!("\nreplay at {threshold:.2}: {} {label}", list.len());
        for (q, c, s) in list.iter().take(CONFUSIONS_SHOWN) {
            println!(
                "  {s:.3}  [{}] {:?}\n         [{}] {:?}",
                ids[prompts[*q].intent],
                prompts[*q].text,
                ids[prompts[*c].intent],
                prompts[*c].text
            );
        }
    };
    show("false hits (query, entry served)", &false_hits);
    show(
        "misses of a cached intent (query, nearest cached paraphrase)",
        &misses,
    );
}
