//! The checks whose verdict comes from a driven load and its figures, in two
//! halves: [`drive`] runs the load (the whole of it, or one execution segment of
//! it) and [`verdict`] judges what was driven. A suite runs the two back to back;
//! a check run as segments (`gatebench suite --check NAME --segment I/N`) drives
//! in each segment and is judged once, on the segments' results merged exactly,
//! the same way.
//!
//! The other kinds cannot be split: [`segmentable`] says why for each.

use gatebench_driver::RunResults;

use super::judged::Judged;
use super::{CheckOutcome, Ctx, app, concurrency, errors, load, streaming, usage};
use crate::file::{CheckKind, CheckSpec};
use crate::truth::Window;

/// What a check's load produced: the driver's runs, each under a key that names
/// it in the check (a load pattern's name, else the check's), and, for checks
/// judged by the truth, the mocks' calls during them.
#[derive(Debug)]
pub struct Driven {
    /// The runs, in the check's order.
    pub runs: Vec<(String, RunResults)>,
    /// The mocks' calls during the runs (checks judged by the truth).
    pub truth: Option<Window>,
}

/// Whether a check can run as execution segments whose merged results are judged
/// as one run's: `Err` says why not.
pub fn segmentable(spec: &CheckSpec) -> Result<(), &'static str> {
    match spec.kind {
        CheckKind::Load
        | CheckKind::Concurrency
        | CheckKind::Streaming
        | CheckKind::Usage
        | CheckKind::Errors
        | CheckKind::App => Ok(()),
        CheckKind::Queue => Err(
            "it judges the order in which one gateway's queue serves priorities while the whole load waits in it; segments each send a part of that load at their own start",
        ),
        CheckKind::Cache => Err(
            "its hit rate depends on one cache seeing the whole workload in order, and its threshold sweep replays that workload",
        ),
        CheckKind::Cost => Err(
            "it compares the target's own ledger, read after the load, with the mocks' books: a per-target reading, not a load to split",
        ),
        CheckKind::Resilience => Err(
            "it times an outage from the check's start and polls the target's readiness throughout: one timeline seen by one process",
        ),
        CheckKind::Isolation => {
            Err("it drives two tenants one after the other and compares what each was served")
        }
        CheckKind::Endpoints => Err(
            "it runs scripted requests against each route one after another: there is no load to split",
        ),
        CheckKind::Memory => Err(
            "it samples the target's memory while the load runs: a segment sees only the memory under its part of the load",
        ),
        CheckKind::Scale => Err(
            "it picks each step's load from the steps before it (the breaking point): run `gatebench scale` per step instead",
        ),
    }
}

fn judged_by_truth(kind: CheckKind) -> bool {
    matches!(
        kind,
        CheckKind::Concurrency
            | CheckKind::Streaming
            | CheckKind::Usage
            | CheckKind::Errors
            | CheckKind::App
    )
}

/// Runs the check's load: every pattern of a `load` check in turn, else its
/// scenario (between a mark of the mocks' books and their settling, for the
/// checks judged by the truth).
pub async fn drive(ctx: &Ctx<'_>) -> Result<Driven, String> {
    let spec = ctx.spec;
    if spec.kind == CheckKind::Load {
        let mut runs = Vec::new();
        for pattern in &spec.patterns {
            runs.push((pattern.name.clone(), ctx.drive(&pattern.scenario).await?));
        }
        return Ok(Driven { runs, truth: None });
    }
    let scenario = spec.scenario.as_deref().unwrap_or_default();
    if judged_by_truth(spec.kind) {
        let (results, window) = ctx
            .drive_with_truth(scenario, ctx.subject.key_map())
            .await?;
        Ok(Driven {
            runs: vec![(spec.name.clone(), results)],
            truth: Some(window),
        })
    } else {
        Ok(Driven {
            runs: vec![(spec.name.clone(), ctx.drive(scenario).await?)],
            truth: None,
        })
    }
}

/// The check's verdict on what was driven.
pub fn verdict(ctx: &Ctx<'_>, driven: Driven) -> Result<CheckOutcome, String> {
    let name = &ctx.spec.name;
    let mut runs = driven.runs.into_iter().map(|(_, r)| r);
    let kind = ctx.spec.kind;
    if kind == CheckKind::Load {
        return load::verdict(ctx, runs.collect());
    }
    let results = runs
        .next()
        .ok_or_else(|| format!("check {name}: no run to judge"))?;
    let judged = |results| {
        let window = driven
            .truth
            .ok_or_else(|| format!("check {name}: the mocks' calls are missing"))?;
        Ok::<_, String>(Judged::new(results, window))
    };
    match kind {
        CheckKind::Concurrency => concurrency::verdict(ctx, judged(results)?),
        CheckKind::Streaming => streaming::verdict(ctx, judged(results)?),
        CheckKind::Usage => usage::verdict(ctx, judged(results)?),
        CheckKind::Errors => errors::verdict(ctx, judged(results)?),
        CheckKind::App => app::verdict(ctx, judged(results)?),
        other => Err(format!(
            "check {name}: a {other:?} check is not judged from a driven load alone"
        )),
    }
}
