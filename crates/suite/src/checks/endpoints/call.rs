//! One HTTP call of a probe: what to send (method, path, credentials, headers,
//! body) and what came back (status, headers, the whole body).

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// How a request identifies its tenant.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer KEY`.
    Bearer(String),
    /// `xi-api-key: KEY` (ElevenLabs' header).
    Xi(String),
}

/// A request body.
#[derive(Clone, Debug)]
pub enum Payload {
    /// None.
    Empty,
    /// JSON.
    Json(Value),
    /// Bytes as they are, sent as `application/json`.
    Raw(Vec<u8>),
}

/// A request to the gateway.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path and query, from the gateway's base URL.
    pub path: String,
    /// Credentials.
    pub auth: Auth,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Payload,
}

impl Request {
    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>, auth: Auth) -> Request {
        Request {
            method: Method::GET,
            path: path.into(),
            auth,
            headers: Vec::new(),
            body: Payload::Empty,
        }
    }

    /// A `DELETE` of `path`.
    pub fn delete(path: impl Into<String>, auth: Auth) -> Request {
        Request {
            method: Method::DELETE,
            ..Request::get(path, auth)
        }
    }

    /// A `POST` of JSON to `path`.
    pub fn post(path: impl Into<String>, auth: Auth, body: Value) -> Request {
        Request {
            method: Method::POST,
            path: path.into(),
            auth,
            headers: Vec::new(),
            body: Payload::Json(body),
        }
    }

    /// A `POST` of raw bytes to `path`.
    pub fn post_raw(path: impl Into<String>, auth: Auth, body: Vec<u8>) -> Request {
        Request {
            method: Method::POST,
            path: path.into(),
            auth,
            headers: Vec::new(),
            body: Payload::Raw(body),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }
}

/// What the gateway answered.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type, without parameters, lowercase.
    pub fn media_type(&self) -> String {
        let value = self.header("content-type").unwrap_or_default();
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("the body is not JSON ({e}): `{}`", self.preview()))
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.body).map_err(|e| format!("the body is not UTF-8: {e}"))
    }

    /// The start of the body, for messages.
    pub fn preview(&self) -> String {
        super::shapes::clip(&String::from_utf8_lossy(&self.body), 120)
    }
}

/// Sends `request` to the gateway at `base` and reads the whole answer.
pub async fn send(http: &reqwest::Client, base: &str, request: &Request) -> Result<Reply, String> {
    let mut builder = http.request(request.method.clone(), format!("{base}{}", request.path));
    builder = match &request.auth {
        Auth::None => builder,
        Auth::Bearer(key) => builder.bearer_auth(key),
        Auth::Xi(key) => builder.header("xi-api-key", key),
    };
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    builder = match &request.body {
        Payload::Empty => builder,
        Payload::Json(value) => builder.json(value),
        Payload::Raw(bytes) => builder
            .header("content-type", "application/json")
            .body(bytes.clone()),
    };
    let response = builder
        .send()
        .await
        .map_err(|e| format!("no answer: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{status}, then the body broke: {}", error_chain(&e)))?;
    Ok(Reply {
        status,
        headers,
        body: body.to_vec(),
    })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
