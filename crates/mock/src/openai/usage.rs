//! OpenAI's organization Usage and Costs APIs, answered from the mock's books:
//! `GET /v1/organization/usage/completions`, `GET /v1/organization/usage/embeddings`
//! and `GET /v1/organization/costs`, in the shapes the official SDKs and the
//! OpenAI cookbook's usage dashboards read.
//!
//! Parameters as OpenAI documents them: `start_time` (Unix seconds, required),
//! `end_time`, `bucket_width` (`1m`, `1h`, `1d`; the default `1d`), `group_by`
//! (`model`, `api_key_id`; others are accepted and left `null`), `models`,
//! `api_key_ids`, `limit` (buckets per page) and `page` (the cursor of
//! `next_page`). Lists may repeat the name (`group_by=model&group_by=api_key_id`),
//! use `name[]`, or separate values with commas. The books keep usage per minute,
//! so a bucket holds the minutes that start inside it.
//!
//! Costs are the books' usage priced with the price files (`pricing/`): uncached
//! input, cached input and output per model, exactly; `amount.value` is written
//! with every decimal digit of the exact figure. Line items are `MODEL, input`,
//! `MODEL, cached input` and `MODEL, output`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use gatebench_cost::{PriceBook, Usage as Units, cost};
use gatebench_wire::books::Tally;
use http::StatusCode;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::OpenAiMock;
use crate::books::unix_ms;
use crate::error::ApiError;
use crate::json::Json;

/// Routes whose calls are completions in the usage reports.
const COMPLETION_ROUTES: [&str; 3] = ["/v1/chat/completions", "/v1/completions", "/v1/responses"];
/// Routes whose calls are embeddings.
const EMBEDDING_ROUTES: [&str; 1] = ["/v1/embeddings"];

/// A parsed query: every value of every name, in order.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.trim_end_matches("[]").to_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn seconds(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.one(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| bad(name, format!("'{name}' must be Unix seconds, got '{v}'")))
            })
            .transpose()
    }
}

fn bad(param: &str, message: String) -> ApiError {
    ApiError::openai(StatusCode::BAD_REQUEST, "invalid_request_error", message).param(param)
}

/// The time range, bucket width and page of a report.
#[derive(Debug, PartialEq)]
struct Window {
    start: u64,
    end: u64,
    width: u64,
    limit: u64,
}

impl Window {
    fn parse(params: &Params, widths: &[&str]) -> Result<Window, ApiError> {
        let start = params.seconds("start_time")?.ok_or_else(|| {
            bad(
                "start_time",
                "Missing required parameter: 'start_time'.".into(),
            )
        })?;
        let now = unix_ms() / 1000;
        let end = params.seconds("end_time")?.unwrap_or(now + 1);
        let width_name = params.one("bucket_width").unwrap_or("1d");
        if !widths.contains(&width_name) {
            return Err(bad(
                "bucket_width",
                format!(
                    "Invalid 'bucket_width': '{width_name}'. Supported values are: {}.",
                    widths.join(", ")
                ),
            ));
        }
        let (width, default_limit, max_limit) = match width_name {
            "1m" => (60, 60, 1440),
            "1h" => (3600, 24, 168),
            _ => (86_400, 7, 31),
        };
        let limit = match params.one("limit") {
            None => default_limit,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max_limit).contains(n))
                .ok_or_else(|| {
                    bad("limit", format!("'limit' must be between 1 and {max_limit} for bucket_width {width_name}, got '{v}'"))
                })?,
        };
        // A page cursor is the start of its first bucket.
        let start = match params.one("page") {
            None => start,
            Some(cursor) => cursor
                .strip_prefix("page_")
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|t| *t >= start)
                .ok_or_else(|| bad("page", format!("Invalid page cursor '{cursor}'.")))?,
        };
        if end <= start {
            return Err(bad(
                "end_time",
                "'end_time' must be after 'start_time'.".into(),
            ));
        }
        Ok(Window {
            start,
            end,
            width,
            limit,
        })
    }

    /// This page's end, and the cursor of the next page if there is one.
    fn page(&self) -> (u64, Option<String>) {
        let page_end = self.start.saturating_add(self.width * self.limit);
        if page_end < self.end {
            (page_end, Some(format!("page_{page_end}")))
        } else {
            (self.end, None)
        }
    }
}

/// How results are grouped.
#[derive(Clone, Copy, Debug, Default)]
struct GroupBy {
    model: bool,
    key: bool,
    line_item: bool,
}

const GROUPS: [&str; 7] = [
    "project_id",
    "user_id",
    "api_key_id",
    "model",
    "batch",
    "service_tier",
    "line_item",
];

fn group_by(params: &Params, allowed: &[&str]) -> Result<GroupBy, ApiError> {
    let mut by = GroupBy::default();
    for field in params.list("group_by") {
        if !allowed.contains(&field.as_str()) || !GROUPS.contains(&field.as_str()) {
            return Err(bad(
                "group_by",
                format!(
                    "Invalid 'group_by' value '{field}'. Supported values are: {}.",
                    allowed.join(", ")
                ),
            ));
        }
        match field.as_str() {
            "model" => by.model = true,
            "api_key_id" => by.key = true,
            "line_item" => by.line_item = true,
            _ => {}
        }
    }
    Ok(by)
}

fn null_or(on: bool, value: &str) -> Value {
    if on && !value.is_empty() {
        Value::String(value.to_owned())
    } else {
        Value::Null
    }
}

/// `GET /v1/organization/usage/completions`.
pub(super) async fn completions(
    State(mock): State<Arc<OpenAiMock>>,
    RawQuery(raw): RawQuery,
) -> Response {
    usage_report(&mock, raw.as_deref(), &COMPLETION_ROUTES, "completions")
}

/// `GET /v1/organization/usage/embeddings`.
pub(super) async fn embeddings(
    State(mock): State<Arc<OpenAiMock>>,
    RawQuery(raw): RawQuery,
) -> Response {
    usage_report(&mock, raw.as_deref(), &EMBEDDING_ROUTES, "embeddings")
}

fn usage_report(mock: &OpenAiMock, raw: Option<&str>, routes: &[&str], what: &str) -> Response {
    let params = Params::parse(raw);
    let result = (|| {
        let window = Window::parse(&params, &["1m", "1h", "1d"])?;
        let by = group_by(
            &params,
            &[
                "project_id",
                "user_id",
                "api_key_id",
                "model",
                "batch",
                "service_tier",
            ],
        )?;
        let models = params.list("models");
        let keys = params.list("api_key_ids");
        let (page_end, next_page) = window.page();
        let buckets = mock.core.books.buckets(
            window.start,
            page_end,
            window.width,
            |g| {
                routes.contains(&g.route.as_str())
                    && (models.is_empty() || models.contains(&g.model))
                    && (keys.is_empty() || keys.contains(&g.key))
            },
            |g| {
                (
                    if by.model {
                        g.model.clone()
                    } else {
                        String::new()
                    },
                    if by.key { g.key.clone() } else { String::new() },
                )
            },
        );
        let object = format!("organization.usage.{what}.result");
        let data: Vec<Bucket<Value>> = buckets
            .into_iter()
            .map(|(start, groups)| {
                let results: Vec<Value> = groups
                    .iter()
                    .filter(|(_, t)| t.billed > 0)
                    .map(|((model, key), t)| {
                        let mut result = json!({
                            "object": object,
                            "input_tokens": t.usage.input_tokens,
                            "num_model_requests": t.billed,
                            "project_id": null,
                            "user_id": null,
                            "api_key_id": null_or(by.key, key),
                            "model": null_or(by.model, model),
                        });
                        if what == "completions" {
                            result["output_tokens"] = json!(t.usage.output_tokens);
                            result["input_cached_tokens"] = json!(t.usage.cached_tokens);
                            result["input_audio_tokens"] = json!(0);
                            result["output_audio_tokens"] = json!(0);
                            result["batch"] = Value::Null;
                            result["service_tier"] = Value::Null;
                        }
                        result
                    })
                    .collect();
                bucket(start, (start + window.width).min(window.end), results)
            })
            .collect();
        Ok::<_, ApiError>(page(data, next_page))
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Serialize)]
struct Bucket<T> {
    object: &'static str,
    start_time: u64,
    end_time: u64,
    results: Vec<T>,
}

fn bucket<T>(start: u64, end: u64, results: Vec<T>) -> Bucket<T> {
    Bucket {
        object: "bucket",
        start_time: start,
        end_time: end,
        results,
    }
}

#[derive(Serialize)]
struct Page<T> {
    object: &'static str,
    data: Vec<Bucket<T>>,
    has_more: bool,
    next_page: Option<String>,
}

fn page<T>(data: Vec<Bucket<T>>, next_page: Option<String>) -> Page<T> {
    Page {
        object: "page",
        data,
        has_more: next_page.is_some(),
        next_page,
    }
}

/// One line of the Costs API; the amount keeps every digit.
#[derive(Serialize)]
struct CostResult {
    object: &'static str,
    amount: Amount,
    line_item: Option<String>,
    project_id: Option<String>,
    api_key_id: Option<String>,
}

#[derive(Serialize)]
struct Amount {
    value: Box<RawValue>,
    currency: &'static str,
}

/// `GET /v1/organization/costs`.
pub(super) async fn costs(
    State(mock): State<Arc<OpenAiMock>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::parse(raw.as_deref());
    let result = (|| {
        let window = Window::parse(&params, &["1m", "1h", "1d"])?;
        let by = group_by(&params, &["project_id", "line_item", "api_key_id"])?;
        let (page_end, next_page) = window.page();
        let routes: Vec<&str> = COMPLETION_ROUTES
            .iter()
            .chain(&EMBEDDING_ROUTES)
            .copied()
            .collect();
        let buckets = mock.core.books.buckets(
            window.start,
            page_end,
            window.width,
            |g| routes.contains(&g.route.as_str()),
            |g| {
                (
                    g.model.clone(),
                    if by.key { g.key.clone() } else { String::new() },
                )
            },
        );
        let prices = &mock.prices;
        let mut data = Vec::with_capacity(buckets.len());
        for (start, groups) in buckets {
            let mut lines: BTreeMap<(String, String), Decimal> = BTreeMap::new();
            for ((model, key), tally) in &groups {
                for (item, amount) in line_items(prices, model, tally).map_err(|e| {
                    ApiError::openai(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e)
                })? {
                    let item = if by.line_item { item } else { String::new() };
                    *lines.entry((item, key.clone())).or_default() += amount;
                }
            }
            let some = |on: bool, v: String| (on && !v.is_empty()).then_some(v);
            let results: Vec<CostResult> = lines
                .into_iter()
                .map(|((item, key), amount)| CostResult {
                    object: "organization.costs.result",
                    amount: Amount {
                        value: exact_number(amount),
                        currency: "usd",
                    },
                    line_item: some(by.line_item, item),
                    project_id: None,
                    api_key_id: some(by.key, key),
                })
                .collect();
            data.push(bucket(
                start,
                (start + window.width).min(window.end),
                results,
            ));
        }
        Ok::<_, ApiError>(page(data, next_page))
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The cost lines of one model's usage: uncached input, cached input, output.
fn line_items(
    prices: &PriceBook,
    model: &str,
    tally: &Tally,
) -> Result<Vec<(String, Decimal)>, String> {
    let units = prices.resolve(model).units;
    let u = &tally.usage;
    let parts = [
        (
            "input",
            Units {
                prompt_tokens: u.input_tokens - u.cached_tokens.min(u.input_tokens),
                ..Units::default()
            },
        ),
        (
            "cached input",
            Units {
                prompt_tokens: u.cached_tokens,
                cached_tokens: u.cached_tokens,
                ..Units::default()
            },
        ),
        (
            "output",
            Units {
                completion_tokens: u.output_tokens,
                ..Units::default()
            },
        ),
    ];
    parts
        .into_iter()
        .filter(|(_, units)| *units != Units::default())
        .map(|(item, part)| {
            cost(&units, &part)
                .map(|amount| (format!("{model}, {item}"), amount))
                .map_err(|e| format!("cannot price {model}: {e}"))
        })
        .collect()
}

/// A decimal as a JSON number with every digit (a float would round it).
fn exact_number(amount: Decimal) -> Box<RawValue> {
    let text = amount.normalize().to_string();
    // A Decimal prints as digits, a point and a sign only: always a JSON number.
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("0".into()).expect("a JSON number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_like_openai_documents_them() {
        let p = Params::parse(Some(
            "start_time=1000&end_time=5000&bucket_width=1m&limit=10",
        ));
        let w = Window::parse(&p, &["1m", "1h", "1d"]).unwrap();
        assert_eq!(
            w,
            Window {
                start: 1000,
                end: 5000,
                width: 60,
                limit: 10
            }
        );
        assert_eq!(w.page(), (1600, Some("page_1600".into())));
        let p = Params::parse(Some(
            "start_time=1000&end_time=5000&bucket_width=1m&page=page_1600",
        ));
        assert_eq!(Window::parse(&p, &["1m"]).unwrap().start, 1600);
        for bad in [
            "end_time=5",
            "start_time=x",
            "start_time=10&bucket_width=1w",
            "start_time=10&limit=0",
            "start_time=10&bucket_width=1d&limit=32",
            "start_time=10&end_time=5",
            "start_time=10&page=nope",
        ] {
            assert!(
                Window::parse(&Params::parse(Some(bad)), &["1m", "1h", "1d"]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn group_by_takes_repeats_brackets_and_commas() {
        let allowed = ["model", "api_key_id", "project_id"];
        for q in [
            "group_by=model&group_by=api_key_id",
            "group_by[]=model&group_by[]=api_key_id",
            "group_by=model,api_key_id",
        ] {
            let by = group_by(&Params::parse(Some(q)), &allowed).unwrap();
            assert!(by.model && by.key, "{q}");
        }
        assert!(group_by(&Params::parse(Some("group_by=colour")), &allowed).is_err());
    }

    #[test]
    fn costs_are_exact_and_split_into_line_items() {
        let prices = PriceBook::shipped().unwrap();
        let tally = Tally {
            calls: 1,
            billed: 1,
            usage: gatebench_wire::books::CallUsage {
                input_tokens: 1200,
                cached_tokens: 1024,
                output_tokens: 333,
                ..Default::default()
            },
        };
        let lines = line_items(&prices, "gpt-4o-mini", &tally).unwrap();
        let text: Vec<String> = lines.iter().map(|(i, a)| format!("{i}={a}")).collect();
        // 176 × 0.15 + 1024 × 0.075 + 333 × 0.60 per million
        assert_eq!(
            text,
            [
                "gpt-4o-mini, input=0.0000264",
                "gpt-4o-mini, cached input=0.0000768",
                "gpt-4o-mini, output=0.0001998"
            ]
        );
        assert_eq!(
            exact_number(Decimal::new(21825, 8)).to_string(),
            "0.00021825"
        );
    }
}
