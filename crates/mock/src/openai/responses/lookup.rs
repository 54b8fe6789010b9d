//! The stored responses' routes: `GET /v1/responses/{id}`, `DELETE
//! /v1/responses/{id}` and `GET /v1/responses/{id}/input_items` (`limit` 1 to 100,
//! default 20; `order` `desc`, the default, or `asc`; `after` an item id).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::store::Stored;
use crate::core::RequestCtx;
use crate::error::ApiError;
use crate::json::Json;
use crate::openai::OpenAiMock;
use crate::openai::validate::invalid;

/// The API's answer for an id it does not hold (or holds for another key).
fn not_found(id: &str) -> ApiError {
    ApiError::openai(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Response with id '{id}' not found."),
    )
}

fn stored(mock: &OpenAiMock, ctx: &RequestCtx, id: &str) -> Result<Arc<Stored>, ApiError> {
    mock.responses
        .get(ctx.api_key(), id)
        .ok_or_else(|| not_found(id))
}

/// `GET /v1/responses/{id}`: the response as it ended.
pub(in crate::openai) async fn retrieve(
    State(mock): State<Arc<OpenAiMock>>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> Response {
    match stored(&mock, &ctx, &id) {
        Ok(stored) => {
            let mut response = stored.body.clone().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `DELETE /v1/responses/{id}`.
pub(in crate::openai) async fn delete(
    State(mock): State<Arc<OpenAiMock>>,
    ctx: RequestCtx,
    Path(id): Path<String>,
) -> Response {
    if mock.responses.remove(ctx.api_key(), &id) {
        Json(json!({"id": id, "object": "response", "deleted": true})).into_response()
    } else {
        not_found(&id).into_response()
    }
}

/// `GET /v1/responses/{id}/input_items`: a page of the input items of the
/// response's conversation.
pub(in crate::openai) async fn input_items(
    State(mock): State<Arc<OpenAiMock>>,
    ctx: RequestCtx,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let page = Page::parse(query.as_deref().unwrap_or_default())
        .and_then(|page| Ok(page.of(&stored(&mock, &ctx, &id)?.listed())));
    match page {
        Ok(page) => Json(page).into_response(),
        Err(error) => error.into_response(),
    }
}

/// What page of a list was asked for.
#[derive(Debug, PartialEq)]
struct Page {
    limit: usize,
    ascending: bool,
    after: Option<String>,
}

impl Page {
    /// The query's `limit`, `order` and `after`; other parameters are ignored.
    fn parse(query: &str) -> Result<Page, ApiError> {
        let mut page = Page {
            limit: 20,
            ascending: false,
            after: None,
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "limit" => {
                    page.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| {
                            invalid(
                                "limit",
                                format!(
                                    "Invalid 'limit': expected an integer between 1 and 100, but got '{value}' instead."
                                ),
                                Some("invalid_value"),
                            )
                        })?;
                }
                "order" => {
                    page.ascending = match &*value {
                        "asc" => true,
                        "desc" => false,
                        other => {
                            return Err(invalid(
                                "order",
                                format!(
                                    "Invalid value: '{other}'. Supported values are: 'asc' and 'desc'."
                                ),
                                Some("invalid_value"),
                            ));
                        }
                    }
                }
                "after" => page.after = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(page)
    }

    /// The page of `items` (in input order): the list object the API returns.
    fn of(&self, items: &[Value]) -> Value {
        let ordered: Vec<&Value> = if self.ascending {
            items.iter().collect()
        } else {
            items.iter().rev().collect()
        };
        let start = match &self.after {
            Some(after) => ordered
                .iter()
                .position(|i| i.get("id").and_then(Value::as_str) == Some(after))
                .map_or(ordered.len(), |at| at + 1),
            None => 0,
        };
        let rest = &ordered[start..];
        let data: Vec<&Value> = rest.iter().take(self.limit).copied().collect();
        let id = |v: Option<&&Value>| v.and_then(|v| v.get("id")).cloned();
        json!({
            "object": "list",
            "data": data,
            "first_id": id(data.first()),
            "last_id": id(data.last()),
            "has_more": rest.len() > data.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"id": format!("msg_{i}")})).collect()
    }

    #[test]
    fn pages_run_newest_first_by_default_and_continue_after_an_id() {
        let page = Page::parse("limit=2").unwrap();
        let first = page.of(&items(5));
        assert_eq!(first["first_id"], "msg_4");
        assert_eq!(first["last_id"], "msg_3");
        assert_eq!(first["has_more"], true);
        let next = Page::parse("limit=2&after=msg_3").unwrap().of(&items(5));
        assert_eq!(next["first_id"], "msg_2");
        let last = Page::parse("order=asc&after=msg_3").unwrap().of(&items(5));
        assert_eq!(last["data"].as_array().unwrap().len(), 1);
        assert_eq!(last["has_more"], false);
        let empty = Page::parse("after=msg_9").unwrap().of(&items(5));
        assert_eq!(empty["first_id"], Value::Null);
    }

    #[test]
    fn a_bad_limit_or_order_is_refused_in_the_apis_words() {
        for (query, param) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=x", "limit"),
            ("order=up", "order"),
        ] {
            let error = Page::parse(query).unwrap_err();
            assert_eq!(error.status_code(), StatusCode::BAD_REQUEST, "{query}");
            let body = format!("{error:?}");
            assert!(body.contains(param), "{query}: {body}");
        }
    }
}
