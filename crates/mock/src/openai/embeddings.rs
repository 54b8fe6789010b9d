//! `POST /v1/embeddings`: strings or token arrays in, unit vectors out, as floats or
//! base64, shortened to `dimensions` when asked (truncated, then renormalised, as
//! OpenAI shortens `text-embedding-3-*` vectors). Tokens are counted with
//! `cl100k_base`, the tokenizer of every OpenAI embedding model.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatebench_wire::books::hash;
use gatebench_wire::openai::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, EncodingFormat,
};

use super::OpenAiMock;
use super::admission::admit;
use super::arguments;
use super::validate::{self, invalid};
use crate::core::{Buffered, RequestCtx};
use crate::delay;
use crate::error::ApiError;
use crate::json::Json;
use gatebench_tokens::Encoding;

/// The tokenizer of OpenAI's embedding models.
pub const EMBEDDING_ENCODING: Encoding = Encoding::Cl100kBase;

/// The route handler.
pub(super) async fn handle(
    State(mock): State<Arc<OpenAiMock>>,
    ctx: RequestCtx,
    Buffered(body): Buffered,
) -> Response {
    match serve(&mock, &ctx, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve(mock: &OpenAiMock, ctx: &RequestCtx, body: &[u8]) -> Result<Response, ApiError> {
    let request: EmbeddingRequest = mock.request(body, arguments::EMBEDDINGS)?;
    let (model, embedder) = mock.embedding_model(&request.model)?;
    validate::embeddings(&request, model)?;
    let inputs = texts(&request.input)?;
    let counts: Vec<usize> = inputs.iter().map(|(_, n)| *n).collect();
    validate::embedding_tokens(&counts, model)?;
    let total: usize = counts.iter().sum();
    let admission = admit(&mock.core, ctx, &request.model, total as u64)?;

    let dims = request
        .dimensions
        .map_or(model.dimensions as usize, |d| d.max(1) as usize);
    let format = request.encoding_format.unwrap_or_default();
    let data = inputs
        .iter()
        .enumerate()
        .map(|(i, (text, _))| Embedding {
            object: "embedding".to_owned(),
            index: i as u32,
            embedding: encode(&shorten(embedder.embed(text), dims), format),
        })
        .collect();

    ctx.serve(|served| {
        served.model = Some(mock.name(&request.model));
        served.usage.input_tokens = total as u64;
        served.prompt_digest = inputs.first().map(|(text, _)| hash(text.as_bytes()));
    });
    let base = model.base.sample(&mut ctx.rng("embedding_base"));
    let per_token = model.per_token.sample(&mut ctx.rng("embedding_per_token"));
    let wait = base.saturating_add(delay::scale(per_token, total as f64));
    ctx.sleep_from_received(delay::scale(wait, admission.factor()))
        .await;

    let usage = EmbeddingUsage {
        prompt_tokens: total as u32,
        total_tokens: total as u32,
    };
    tracing::debug!(model = %request.model, inputs = counts.len(), tokens = total, dims, "embeddings");
    let mut response = Json(EmbeddingResponse {
        object: "list".to_owned(),
        data,
        model: request.model,
        usage,
    })
    .into_response();
    response.headers_mut().extend(admission.headers.clone());
    Ok(response)
}

/// Each input as text, with its token count. Token arrays are decoded with the
/// embedding tokenizer and billed at their length.
fn texts(input: &EmbeddingInput) -> Result<Vec<(String, usize)>, ApiError> {
    let text = |s: &String| (s.clone(), EMBEDDING_ENCODING.count(s));
    let tokens = |i: usize, t: &Vec<u32>| {
        EMBEDDING_ENCODING
            .decode_lossy(t)
            .map(|s| (s, t.len()))
            .ok_or_else(|| {
                invalid(
                    "input",
                    format!(
                        "Invalid token in 'input[{i}]': every token must be an id of the {} vocabulary.",
                        EMBEDDING_ENCODING.name()
                    ),
                    Some("invalid_value"),
                )
            })
    };
    match input {
        EmbeddingInput::Text(s) => Ok(vec![text(s)]),
        EmbeddingInput::Texts(v) => Ok(v.iter().map(text).collect()),
        EmbeddingInput::Tokens(t) => Ok(vec![tokens(0, t)?]),
        EmbeddingInput::TokenLists(v) => v.iter().enumerate().map(|(i, t)| tokens(i, t)).collect(),
    }
}

/// The first `dims` values of `vector`, scaled back to unit length.
pub fn shorten(mut vector: Vec<f32>, dims: usize) -> Vec<f32> {
    if dims < vector.len() {
        vector.truncate(dims);
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
    }
    vector
}

/// The vector as the request asked for it.
pub fn encode(vector: &[f32], format: EncodingFormat) -> EmbeddingVector {
    match format {
        EncodingFormat::Float => EmbeddingVector::Float(vector.to_vec()),
        EncodingFormat::Base64 => EmbeddingVector::Base64(encode_base64(vector)),
    }
}

/// Base64 of the vector's little-endian `f32` bytes (what `encoding_format:
/// "base64"` returns).
pub fn encode_base64(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// The vector back from its base64 form; `None` if it is not base64 of whole
/// `f32`s.
pub fn decode_base64(text: &str) -> Option<Vec<f32>> {
    let bytes = STANDARD.decode(text).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use gatebench_embed::Embedder;

    use super::*;

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn vectors_are_unit_length_and_shortened_ones_too() {
        let embedder = Embedder::new("text-embedding-3-large", 3072);
        let full = embedder.embed("The quick brown fox jumps over the lazy dog.");
        assert_eq!(full.len(), 3072);
        assert!((norm(&full) - 1.0).abs() < 1e-4);
        let short = shorten(full.clone(), 256);
        assert_eq!(short.len(), 256);
        assert!((norm(&short) - 1.0).abs() < 1e-4);
        // Shortening keeps the direction of the leading values.
        let ratio = short[0] / full[0];
        assert!(
            short
                .iter()
                .zip(&full)
                .all(|(s, f)| (s - f * ratio).abs() < 1e-5)
        );
        assert_eq!(shorten(full.clone(), 3072), full);
    }

    #[test]
    fn base64_round_trips_little_endian_floats() {
        let v = vec![0.5f32, -1.25, 3.0e-7, 0.0];
        let text = encode_base64(&v);
        assert_eq!(decode_base64(&text), Some(v));
        // 1.0f32 is 00 00 80 3f in little-endian order.
        assert_eq!(encode_base64(&[1.0]), "AACAPw==");
        assert_eq!(decode_base64("AAA="), None, "not whole floats");
        assert_eq!(decode_base64("not base64!"), None);
    }

    #[test]
    fn token_inputs_decode_and_bill_their_length() {
        let tokens = EMBEDDING_ENCODING.encode("hello world");
        let got = texts(&EmbeddingInput::Tokens(tokens.clone())).unwrap();
        assert_eq!(got, [("hello world".to_owned(), tokens.len())]);
        assert!(texts(&EmbeddingInput::TokenLists(vec![vec![u32::MAX - 9]])).is_err());
        let got = texts(&EmbeddingInput::Texts(vec![
            "a b".into(),
            "hello world".into(),
        ]))
        .unwrap();
        assert_eq!(got[1].1, 2);
    }
}
