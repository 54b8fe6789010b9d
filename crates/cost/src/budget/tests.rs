//! Budgets: reserve, refuse, settle, release, restore; and the invariant that no
//! tenant overspends, under concurrent reserve/settle sequences.

use std::str::FromStr;
use std::sync::Mutex;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::entry::{CacheOutcome, Flags, LedgerEntry};
use crate::meter::Usage;
use crate::price::{Kind, UnitPrices};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn limited(tenant: &str, limit: &str) -> Budgets {
    let budgets = Budgets::new();
    budgets.set_budget(
        tenant,
        Budget {
            limit: Some(d(limit)),
        },
    );
    budgets
}

#[test]
fn reserve_then_settle_moves_the_hold_to_spent() {
    let budgets = limited("alpha", "1");
    let r = budgets.reserve("alpha", d("0.4")).unwrap();
    assert_eq!(budgets.state("alpha").unwrap().reserved, d("0.4"));
    r.settle(d("0.1234"));
    let s = budgets.state("alpha").unwrap();
    assert_eq!((s.spent, s.reserved), (d("0.1234"), Decimal::ZERO));
}

#[test]
fn refuses_past_the_limit_and_allows_exactly_up_to_it() {
    let budgets = limited("alpha", "1");
    let a = budgets.reserve("alpha", d("0.6")).unwrap();
    let e = budgets.reserve("alpha", d("0.5")).unwrap_err();
    assert_eq!(e.tenant, "alpha");
    assert_eq!(
        (e.limit, e.reserved, e.requested),
        (d("1"), d("0.6"), d("0.5"))
    );
    let b = budgets.reserve("alpha", d("0.4")).unwrap();
    assert!(budgets.reserve("alpha", d("0.0000001")).is_err());
    a.settle(d("0.6"));
    b.settle(d("0.4"));
    assert_eq!(budgets.state("alpha").unwrap().spent, d("1"));
    assert!(budgets.reserve("alpha", d("0.0000001")).is_err());
}

#[test]
fn dropping_a_reservation_releases_it() {
    let budgets = limited("alpha", "1");
    {
        let _held = budgets.reserve("alpha", d("1")).unwrap();
        assert!(budgets.reserve("alpha", d("0.01")).is_err());
    }
    let s = budgets.state("alpha").unwrap();
    assert_eq!((s.spent, s.reserved), (Decimal::ZERO, Decimal::ZERO));
    assert!(budgets.reserve("alpha", d("1")).is_ok());
}

#[test]
fn unconfigured_tenants_are_unlimited() {
    let budgets = Budgets::new();
    let r = budgets.reserve("beta", d("1000000")).unwrap();
    r.settle(d("999999.5"));
    assert!(budgets.reserve("beta", d("1000000")).is_ok());
    assert_eq!(budgets.state("beta").unwrap().limit, None);
}

#[test]
fn costing_more_than_reserved_is_recorded_and_blocks_further_calls() {
    let budgets = limited("alpha", "1");
    let r = budgets.reserve("alpha", d("0.9")).unwrap();
    r.settle(d("1.2"));
    let s = budgets.state("alpha").unwrap();
    assert_eq!((s.spent, s.reserved), (d("1.2"), Decimal::ZERO));
    assert!(budgets.reserve("alpha", Decimal::ZERO).is_err());
    // Raising the limit lets the tenant go on; the spend is kept.
    budgets.set_budget(
        "alpha",
        Budget {
            limit: Some(d("2")),
        },
    );
    assert!(budgets.reserve("alpha", d("0.8")).is_ok());
    assert_eq!(budgets.state("alpha").unwrap().spent, d("1.2"));
}

#[test]
fn negative_amounts_count_as_zero() {
    let budgets = limited("alpha", "1");
    let r = budgets.reserve("alpha", d("-5")).unwrap();
    assert_eq!(r.amount(), Decimal::ZERO);
    r.settle(d("-1"));
    assert_eq!(budgets.state("alpha").unwrap().spent, Decimal::ZERO);
}

#[test]
fn spend_is_restored_from_the_ledger() {
    let ledger = Ledger::open(":memory:").unwrap();
    for (tenant, cost) in [("alpha", "0.25"), ("alpha", "0.0000001"), ("beta", "3")] {
        let entry = LedgerEntry {
            id: 0,
            at: 0,
            tenant: tenant.to_owned(),
            request_id: "r".to_owned(),
            provider: "p".to_owned(),
            model: "m".to_owned(),
            kind: Kind::Personality,
            usage: Usage {
                requests: 1,
                ..Usage::default()
            },
            prices: UnitPrices::default(),
            cost_usd: d(cost),
            cache: CacheOutcome::Miss,
            saved_usd: Decimal::ZERO,
            attempts: 1,
            flags: Flags::default(),
        };
        ledger.record(entry).unwrap();
    }
    let budgets = limited("alpha", "0.5");
    budgets.restore_spent(&ledger);
    assert_eq!(budgets.state("alpha").unwrap().spent, d("0.2500001"));
    assert_eq!(budgets.state("alpha").unwrap().limit, Some(d("0.5")));
    assert_eq!(budgets.state("beta").unwrap().spent, d("3"));
    assert!(budgets.reserve("alpha", d("0.25")).is_err());
}

#[test]
fn reservations_move_across_threads() {
    let budgets = limited("alpha", "1");
    let r = budgets.reserve("alpha", d("0.5")).unwrap();
    std::thread::spawn(move || r.settle(d("0.5")))
        .join()
        .unwrap();
    assert_eq!(budgets.state("alpha").unwrap().spent, d("0.5"));
}

/// One step of a thread's sequence: reserve `max` (in 0.0001 USD), then settle
/// `actual` or drop the reservation.
#[derive(Clone, Debug)]
struct Step {
    max: i64,
    actual: i64,
    settle: bool,
}

fn steps(actual_above_max: bool) -> impl Strategy<Value = Vec<Step>> {
    let step = (0_i64..2_000, any::<bool>()).prop_flat_map(move |(max, settle)| {
        let top = if actual_above_max { max * 2 + 10 } else { max };
        (0..=top).prop_map(move |actual| Step {
            max,
            actual,
            settle,
        })
    });
    prop::collection::vec(step, 0..40)
}

/// Runs the steps on four threads; returns (settled total, overrun total).
/// `strict`: every call costs at most its hold, so check the limit after every
/// reservation.
fn run(
    budgets: &Budgets,
    limit: Decimal,
    strict: bool,
    threads: Vec<Vec<Step>>,
) -> (Decimal, Decimal) {
    let settled = Mutex::new((Decimal::ZERO, Decimal::ZERO));
    std::thread::scope(|scope| {
        for steps in threads {
            let settled = &settled;
            scope.spawn(move || {
                for step in steps {
                    let max = Decimal::new(step.max, 4);
                    let actual = Decimal::new(step.actual, 4);
                    if let Ok(r) = budgets.reserve("t", max) {
                        let s = budgets.state("t").unwrap();
                        if strict {
                            assert!(s.spent <= limit && s.spent + s.reserved <= limit);
                        }
                        if step.settle {
                            let mut total = settled.lock().unwrap();
                            total.0 += actual;
                            total.1 += (actual - max).max(Decimal::ZERO);
                            r.settle(actual);
                        }
                    }
                }
            });
        }
    });
    settled.into_inner().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Concurrent reserve/settle/drop with actual ≤ reserved: spent never
    /// exceeds the limit, reservations all come back, spent = sum settled.
    #[test]
    fn no_overspend_under_concurrency(
        limit in 0_i64..20_000,
        threads in prop::collection::vec(steps(false), 4),
    ) {
        let limit = Decimal::new(limit, 4);
        let budgets = Budgets::new();
        budgets.set_budget("t", Budget { limit: Some(limit) });
        let (settled, _) = run(&budgets, limit, true, threads);
        let s = budgets.state("t").unwrap();
        prop_assert!(s.spent <= limit);
        prop_assert_eq!(s.reserved, Decimal::ZERO);
        prop_assert_eq!(s.spent, settled);
    }

    /// When calls cost more than they reserved, the overspend is at most the
    /// sum of the overruns.
    #[test]
    fn overspend_is_bounded_by_the_overruns(
        limit in 0_i64..20_000,
        threads in prop::collection::vec(steps(true), 4),
    ) {
        let limit = Decimal::new(limit, 4);
        let budgets = Budgets::new();
        budgets.set_budget("t", Budget { limit: Some(limit) });
        let (settled, overruns) = run(&budgets, limit, false, threads);
        let s = budgets.state("t").unwrap();
        prop_assert_eq!(s.reserved, Decimal::ZERO);
        prop_assert_eq!(s.spent, settled);
        prop_assert!(s.spent <= limit + overruns);
    }
}
