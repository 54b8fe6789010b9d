//! The independent recomputation of one ledger entry: the units its response
//! carried, times the prices of the price files, compared field by field with
//! what the gateway wrote.
//!
//! Rounding policy: none, like the gateway's. A cost is an exact product of
//! integers and decimal prices divided by a power of ten; a result that would
//! not be exact is reported as such, never rounded. Decimals are compared by
//! value (`0.10 == 0.1`), to the last place.

use gatebench_driver::RequestRecord;
use rust_decimal::Decimal;
use serde::Serialize;

use super::entry::{Entry, UNIT_FIELDS, Units};
use super::prices::{PRICE_FIELDS, PriceTable, Prices};

/// What the check prices with.
#[derive(Clone, Copy, Debug)]
pub struct Pricing<'a> {
    /// The price files.
    pub table: &'a PriceTable,
    /// The gateway's fallback price for unknown models, when the check knows it
    /// (embedded stack); an external gateway's is not knowable.
    pub fallback: Option<Prices>,
}

/// One field of one entry that differs from the recomputation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// The gateway's request id.
    pub request_id: String,
    /// The entry's model.
    pub model: String,
    /// The field (`cost_usd`, `usage.prompt_tokens`, `prices.input_per_million`...).
    pub field: String,
    /// What the recomputation (or the response) says.
    pub expected: String,
    /// What the ledger says.
    pub found: String,
    /// The price file behind `expected`, for price fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Where the expected units came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitsFrom {
    /// The response the client received (its `usage`, `character-cost`, or the
    /// call itself for per-request services).
    Response,
    /// The entry's own units: the response carried none (a stream without
    /// `include_usage`), or no response matched the entry.
    Entry,
    /// A failed call: nothing is billed.
    Failed,
}

/// Where the expected prices came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceFrom {
    /// A price file.
    File,
    /// The gateway's configured fallback price (known on the embedded stack).
    Fallback,
    /// The entry's own prices: the model is in no price file and the
    /// gateway's fallback price is not knowable.
    Unverifiable,
}

/// The verdict on one entry.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Fields that differ; empty when the entry is exact.
    pub diffs: Vec<Diff>,
    /// Source of the expected units.
    pub units_from: UnitsFrom,
    /// Source of the expected prices.
    pub price_from: PriceFrom,
    /// The response carried `x-gatebench-cost-usd` and it was compared.
    pub header_checked: bool,
}

/// An exact decimal as text, without trailing zeros.
pub fn money(value: Decimal) -> String {
    value.normalize().to_string()
}

fn price_text(value: Option<Decimal>) -> String {
    value.map_or_else(|| "none".to_owned(), money)
}

/// The exact price of `units` at `prices`:
/// `(prompt − cached) × input + cached × cached_input + completion × output` per
/// million tokens, `characters × per_thousand_characters / 1000`,
/// `requests × per_request`. A unit used without a price is an error.
pub fn price_of(units: &Units, prices: &Prices) -> Result<Decimal, String> {
    let uncached = units
        .prompt_tokens
        .checked_sub(units.cached_tokens)
        .ok_or_else(|| {
            format!(
                "{} cached tokens exceed {} prompt tokens",
                units.cached_tokens, units.prompt_tokens
            )
        })?;
    let terms = [
        (
            uncached,
            "uncached prompt tokens",
            "input_per_million",
            1_000_000u64,
        ),
        (
            units.cached_tokens,
            "cached prompt tokens",
            "cached_input_per_million",
            1_000_000,
        ),
        (
            units.completion_tokens,
            "completion tokens",
            "output_per_million",
            1_000_000,
        ),
        (
            units.characters,
            "characters",
            "per_thousand_characters",
            1_000,
        ),
        (units.requests, "requests", "per_request", 1),
    ];
    let mut total = Decimal::ZERO;
    for (count, unit, field, per) in terms {
        if count == 0 {
            continue;
        }
        let price = prices
            .get(field)
            .ok_or_else(|| format!("{count} {unit} but no `{field}` price"))?;
        let product = Decimal::from(count)
            .checked_mul(price)
            .ok_or_else(|| format!("{count} {unit} overflow"))?;
        let per = Decimal::from(per);
        let term = product
            .checked_div(per)
            .ok_or_else(|| format!("{count} {unit} overflow"))?;
        // Division is exact here (at most 18 places); prove it rather than trust it.
        if term.checked_mul(per) != Some(product) {
            return Err(format!(
                "{count} {unit} × {price} is not exact in 28 digits"
            ));
        }
        total = total
            .checked_add(term)
            .ok_or_else(|| "the total overflows".to_owned())?;
    }
    Ok(total)
}

/// The kind of call a driver request kind is billed as.
pub fn billed_kind(request_kind: &str) -> Option<&'static str> {
    match request_kind {
        "chat" => Some("chat"),
        "embeddings" => Some("embeddings"),
        "tts" | "tts_timestamps" | "tts_ws" => Some("tts"),
        "personality" => Some("personality"),
        "webvtt" => Some("webvtt"),
        _ => None,
    }
}

/// True when the response was a 2xx.
pub fn succeeded(record: &RequestRecord) -> bool {
    (200..300).contains(&record.status)
}

/// The units the response carried, and whether it carried any.
fn response_units(entry: &Entry, record: Option<&RequestRecord>) -> (Units, UnitsFrom) {
    let own = (entry.usage, UnitsFrom::Entry);
    let Some(record) = record else { return own };
    match entry.kind.as_str() {
        "chat" | "embeddings" => match record.usage {
            Some(u) => (
                Units {
                    prompt_tokens: u.prompt_tokens,
                    cached_tokens: u.cached_tokens,
                    completion_tokens: u.completion_tokens,
                    ..Units::default()
                },
                UnitsFrom::Response,
            ),
            None => own,
        },
        "tts" => match record.tts_characters {
            Some(characters) => (
                Units {
                    characters,
                    ..Units::default()
                },
                UnitsFrom::Response,
            ),
            None => own,
        },
        // A service call is one request: the call itself is the unit.
        "personality" | "webvtt" => (
            Units {
                requests: 1,
                ..Units::default()
            },
            UnitsFrom::Response,
        ),
        _ => own,
    }
}

/// Prices are equal when their values are; an absent price equals a zero one
/// (both bill nothing).
fn same_price(a: Option<Decimal>, b: Option<Decimal>) -> bool {
    a.unwrap_or(Decimal::ZERO) == b.unwrap_or(Decimal::ZERO)
}

/// Checks one entry against the response `record` it billed (if one matched).
pub fn verify(entry: &Entry, record: Option<&RequestRecord>, pricing: &Pricing<'_>) -> Verified {
    let mut diffs = Vec::new();
    let mut diff = |field: &str, expected: String, found: String, file: Option<String>| {
        diffs.push(Diff {
            request_id: entry.request_id.clone(),
            model: entry.model.clone(),
            field: field.to_owned(),
            expected,
            found,
            file,
        });
    };

    // What the response said about itself.
    if let Some(r) = record {
        if let Some(kind) = billed_kind(&r.kind)
            && kind != entry.kind
        {
            diff("kind", kind.to_owned(), entry.kind.clone(), None);
        }
        let headers = [
            (
                "model (x-gatebench-model)",
                r.model.as_deref(),
                entry.model.as_str(),
            ),
            (
                "provider (x-gatebench-provider)",
                r.provider.as_deref(),
                entry.provider.as_str(),
            ),
            (
                "cache (x-gatebench-cache)",
                r.cache.as_deref(),
                entry.cache.as_str(),
            ),
        ];
        for (field, said, written) in headers {
            if let Some(said) = said
                && said != written
            {
                diff(field, said.to_owned(), written.to_owned(), None);
            }
        }
        let failed = !succeeded(r);
        if failed != entry.flags.failed {
            diff(
                "flags.failed",
                failed.to_string(),
                entry.flags.failed.to_string(),
                None,
            );
        }
    }

    // Prices: the file's, else the fallback's, else (not knowable) the entry's own.
    let (prices, price_from, file) = match pricing.table.get(&entry.model) {
        Some(row) => {
            if row.kind != entry.kind {
                diff(
                    "kind (price file)",
                    row.kind.clone(),
                    entry.kind.clone(),
                    Some(row.file.display().to_string()),
                );
            }
            if entry.flags.priced_by_fallback {
                diff(
                    "flags.priced_by_fallback",
                    "false (a price file has the model)".into(),
                    "true".into(),
                    None,
                );
            }
            (
                row.prices,
                PriceFrom::File,
                Some(row.file.display().to_string()),
            )
        }
        None => {
            if !entry.flags.priced_by_fallback {
                diff(
                    "flags.priced_by_fallback",
                    "true (no price file has the model)".into(),
                    "false".into(),
                    None,
                );
            }
            match pricing.fallback {
                Some(fallback) => (
                    fallback,
                    PriceFrom::Fallback,
                    Some("the gateway's pricing.fallback".to_owned()),
                ),
                None => (entry.prices, PriceFrom::Unverifiable, None),
            }
        }
    };
    if price_from != PriceFrom::Unverifiable {
        for field in PRICE_FIELDS {
            let (want, got) = (prices.get(field), entry.prices.get(field));
            if !same_price(want, got) {
                diff(
                    &format!("prices.{field}"),
                    price_text(want),
                    price_text(got),
                    file.clone(),
                );
            }
        }
    }

    // Units: those the response carried.
    let (units, units_from) = if entry.flags.failed {
        (Units::default(), UnitsFrom::Failed)
    } else {
        response_units(entry, record)
    };
    if units_from == UnitsFrom::Response {
        for field in UNIT_FIELDS {
            if units.get(field) != entry.usage.get(field) {
                diff(
                    &format!("usage.{field}"),
                    units.get(field).to_string(),
                    entry.usage.get(field).to_string(),
                    None,
                );
            }
        }
    }

    // Money: a failed call costs and saves nothing; a hit costs nothing and
    // saves its price; anything else costs its price.
    let price = price_of(&units, &prices);
    let (want_cost, want_saved) = match (entry.flags.failed, entry.is_hit()) {
        (true, _) => (Ok(Decimal::ZERO), Ok(Decimal::ZERO)),
        (false, true) => (Ok(Decimal::ZERO), price),
        (false, false) => (price, Ok(Decimal::ZERO)),
    };
    for (field, want, got) in [
        ("cost_usd", want_cost, entry.cost_usd),
        ("saved_usd", want_saved, entry.saved_usd),
    ] {
        match want {
            Ok(want) if want == got => {}
            Ok(want) => diff(field, money(want), money(got), file.clone()),
            Err(why) => diff(
                field,
                format!("unpriceable: {why}"),
                money(got),
                file.clone(),
            ),
        }
    }

    // The cost the response announced must be the one billed.
    let announced = record.and_then(|r| r.cost_usd);
    if let Some(header) = announced
        && header != entry.cost_usd
    {
        diff(
            "x-gatebench-cost-usd",
            money(entry.cost_usd),
            money(header),
            None,
        );
    }
    Verified {
        diffs,
        units_from,
        price_from,
        header_checked: announced.is_some(),
    }
}
