//! The judgement of cost claims against the truth, without I/O.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use gatebench_wire::books::CallRecord;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::checks::judged::Judged;
use crate::pricing::money;
use crate::profile::{CostFormat, CostMatch, TargetProfile, compare_cost};

/// How a call is priced: its true cost and whether the target's declared fallback
/// price was used, or why it cannot be priced.
pub type PriceFn<'a> = dyn Fn(&CallRecord) -> Result<(Decimal, bool), String> + 'a;

/// What the claims came to.
#[derive(Debug, Default)]
pub struct Tally {
    /// The target claims something about cost.
    pub any_claim: bool,
    /// Claims equal to the truth.
    pub exact: u64,
    /// Claims off by binary-float rounding only.
    pub float_rounding: u64,
    /// A few of those, for evidence.
    pub rounding_examples: Vec<String>,
    /// Claims that are wrong.
    pub wrong: Vec<String>,
    /// Wrong claims by the model(s) of their calls.
    pub wrong_models: BTreeMap<String, u64>,
    /// Claims whose truth cannot be priced.
    pub unverifiable: Vec<String>,
    /// Answers without the claim the profile promises.
    pub missing: Vec<String>,
    /// Claimed total over the scope.
    pub claimed_total: Decimal,
    /// True total over the same scope.
    pub true_total: Decimal,
    /// What the totals cover.
    pub total_scope: String,
    /// Every billed call of the run, priced.
    pub true_spend: Decimal,
    /// Calls the mocks billed.
    pub billed_calls: u64,
    /// Of those, priced from the price files.
    pub priced_calls: u64,
    /// Of those, priced at the target's declared fallback price.
    pub fallback_priced: u64,
    /// Calls that could not be priced.
    pub unpriced_calls: Vec<String>,
    /// Answers the target does not claim, by category: count and true cost.
    pub unclaimed: BTreeMap<String, (u64, String)>,
    /// True spend by model.
    pub by_model: BTreeMap<String, (u64, Decimal)>,
}

impl Tally {
    /// Claims compared with the truth.
    pub fn compared(&self) -> u64 {
        self.exact + self.float_rounding + self.wrong.len() as u64
    }

    /// Claimed total minus true total.
    pub fn total_gap(&self) -> Decimal {
        self.claimed_total - self.true_total
    }

    /// Wrong claims by model, as a sentence part.
    pub fn wrong_text(&self) -> String {
        if self.wrong_models.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = self
            .wrong_models
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        format!(" (wrong by model: {})", parts.join(", "))
    }

    /// The unclaimed categories as a sentence part.
    pub fn unclaimed_text(&self) -> String {
        if self.unclaimed.is_empty() {
            return "nothing".into();
        }
        self.unclaimed
            .iter()
            .map(|(what, (n, cost))| format!("{n} {what} (${cost} true cost)"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

/// Judges every claim of a run.
pub fn judge(
    judged: &Judged,
    profile: &TargetProfile,
    ledger: Option<&[Value]>,
    price: &PriceFn<'_>,
) -> Tally {
    let mut t = Tally {
        any_claim: profile.cost.is_some() || ledger.is_some(),
        ..Tally::default()
    };
    let mut truths: Vec<Result<Decimal, String>> = Vec::with_capacity(judged.window.calls.len());
    for call in &judged.window.calls {
        let priced = price(call);
        if call.billed {
            t.billed_calls += 1;
            match &priced {
                Ok((cost, fallback)) => {
                    t.true_spend += cost;
                    if *fallback {
                        t.fallback_priced += 1;
                    } else {
                        t.priced_calls += 1;
                    }
                    let slot = t
                        .by_model
                        .entry(call.model.clone().unwrap_or_default())
                        .or_default();
                    slot.0 += 1;
                    slot.1 += cost;
                }
                Err(why) => t.unpriced_calls.push(format!("{}: {why}", call.request_id)),
            }
        }
        truths.push(priced.map(|(c, _)| c));
    }

    let entries: HashMap<&str, Vec<&Value>> =
        ledger
            .unwrap_or_default()
            .iter()
            .fold(HashMap::new(), |mut map, entry| {
                if let Some(id) = entry.get("request_id").and_then(Value::as_str) {
                    map.entry(id).or_default().push(entry);
                }
                map
            });
    let id_header = profile
        .request_id
        .as_ref()
        .map(|h| h.header.to_ascii_lowercase());
    let mut unclaimed: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    let (mut claimed_sum, mut truth_sum, mut claimed_answers) =
        (Decimal::ZERO, Decimal::ZERO, 0u64);

    for (r, record) in judged.records().iter().enumerate() {
        let id = record.client_request_id.as_deref().unwrap_or("?");
        let truth: Result<Decimal, String> = judged.attribution.calls[r]
            .iter()
            .map(|&i| truths[i].clone())
            .sum();
        let answered = (200..300).contains(&record.status);
        let went_upstream = judged.went_upstream(r);
        let stream = record.chunks.is_some();

        // The claim: the ledger's entries for this request, else its header.
        let (claimed, format) = if ledger.is_some() {
            let Some(target_id) = id_header.as_ref().and_then(|h| record.claims.get(h)) else {
                continue;
            };
            let Some(found) = entries.get(target_id.as_str()) else {
                // A ledger may leave out what cost nothing (a cache hit); not a call
                // the provider billed.
                if went_upstream && truth.as_ref().is_ok_and(|t| !t.is_zero()) {
                    t.missing
                        .push(format!("{id}: no ledger entry for request {target_id}"));
                }
                continue;
            };
            let sum: Option<Decimal> = found
                .iter()
                .map(|e| e.get("cost_usd").and_then(decimal))
                .sum();
            match sum {
                Some(sum) => (sum, CostFormat::Decimal),
                None => {
                    t.wrong
                        .push(format!("{id}: a ledger entry without a readable cost_usd"));
                    continue;
                }
            }
        } else {
            match profile.claimed_cost(record) {
                Some(Ok(claim)) => (
                    claim.value,
                    profile
                        .cost
                        .as_ref()
                        .map_or(CostFormat::Decimal, |c| c.format),
                ),
                Some(Err(why)) => {
                    t.wrong.push(format!("{id}: {why}"));
                    continue;
                }
                None => {
                    if answered {
                        let cost = truth.clone().unwrap_or_default();
                        if profile.cost_expected(record, stream, !went_upstream) {
                            t.missing.push(format!(
                                "{id}: no cost claim on a {}{} answer (true cost ${})",
                                if stream { "streamed " } else { "" },
                                record.kind,
                                money(cost)
                            ));
                        } else if profile.cost.is_some() {
                            let what = if !went_upstream {
                                "cache hits".to_owned()
                            } else if stream {
                                "streamed answers".to_owned()
                            } else {
                                format!("{} answers", record.kind)
                            };
                            let slot = unclaimed.entry(what).or_default();
                            slot.0 += 1;
                            slot.1 += cost;
                        }
                    }
                    continue;
                }
            }
        };
        let truth = match truth {
            Ok(truth) => truth,
            Err(why) => {
                t.unverifiable
                    .push(format!("{id}: claimed ${}; {why}", money(claimed)));
                continue;
            }
        };
        claimed_answers += 1;
        claimed_sum += claimed;
        truth_sum += truth;
        match compare_cost(claimed, truth, format) {
            CostMatch::Exact => t.exact += 1,
            CostMatch::FloatRounding => {
                t.float_rounding += 1;
                if t.rounding_examples.len() < 20 {
                    t.rounding_examples
                        .push(format!("{id}: claimed {claimed}, exactly {}", money(truth)));
                }
            }
            CostMatch::Wrong => {
                let models: Vec<String> = judged
                    .calls_of(r)
                    .filter(|c| c.billed)
                    .filter_map(|c| c.model.clone())
                    .collect();
                let models = if models.is_empty() {
                    "no billed call".to_owned()
                } else {
                    models.join(" + ")
                };
                *t.wrong_models.entry(models.clone()).or_default() += 1;
                t.wrong.push(format!(
                    "{id}: claimed ${}, the mock's usage × prices is ${} ({models})",
                    money(claimed),
                    money(truth)
                ));
            }
        }
    }
    t.unclaimed = unclaimed
        .into_iter()
        .map(|(k, (n, c))| (k, (n, money(c))))
        .collect();
    match ledger {
        Some(entries) => {
            t.claimed_total = entries
                .iter()
                .filter_map(|e| e.get("cost_usd").and_then(decimal))
                .sum();
            t.true_total = t.true_spend;
            t.total_scope = format!(
                "the run's {} ledger entries against every call the mocks billed",
                entries.len()
            );
        }
        None => {
            t.claimed_total = claimed_sum;
            t.true_total = truth_sum;
            t.total_scope = format!("the {claimed_answers} answers that carried a claim");
        }
    }
    t
}
