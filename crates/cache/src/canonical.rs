//! Canonical, prefix-free hashing of JSON values.
//!
//! Keys must not depend on how a client happened to order object fields, nor on
//! whether serde_json was built with `preserve_order` (features unify across the
//! workspace), so objects are hashed with their keys sorted here, explicitly. Every
//! value is written with a type tag and every string and container with its length,
//! which makes the encoding prefix-free: two different values never feed the hasher
//! the same bytes.

use serde_json::{Number, Value};
use xxhash_rust::xxh3::Xxh3;

/// A 128-bit hasher fed with tagged, length-prefixed fields.
pub(crate) struct CanonicalHasher(Xxh3);

impl CanonicalHasher {
    /// A hasher whose output is specific to `domain` (so a chat key can never equal
    /// an embeddings key built from the same bytes).
    pub(crate) fn new(domain: &str) -> Self {
        let mut hasher = CanonicalHasher(Xxh3::new());
        hasher.str(domain);
        hasher
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.update(bytes);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.0.update(b"s");
        self.bytes(s.as_bytes());
    }

    pub(crate) fn tag(&mut self, tag: &[u8]) {
        self.0.update(b"t");
        self.bytes(tag);
    }

    pub(crate) fn u128(&mut self, x: u128) {
        self.0.update(b"u");
        self.0.update(&x.to_le_bytes());
    }

    fn len(&mut self, n: usize) {
        self.0.update(&(n as u64).to_le_bytes());
    }

    /// Feeds `value` with object keys in sorted order.
    pub(crate) fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.0.update(b"n"),
            Value::Bool(true) => self.0.update(b"T"),
            Value::Bool(false) => self.0.update(b"F"),
            Value::Number(n) => {
                self.0.update(b"#");
                self.bytes(canonical_number(n).as_bytes());
            }
            Value::String(s) => self.str(s),
            Value::Array(items) => {
                self.0.update(b"[");
                self.len(items.len());
                items.iter().for_each(|item| self.value(item));
            }
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
                self.object(fields.into_iter());
            }
        }
    }

    /// Feeds an object given as fields already in sorted key order.
    pub(crate) fn object<'a>(
        &mut self,
        fields: impl ExactSizeIterator<Item = (&'a String, &'a Value)>,
    ) {
        self.0.update(b"{");
        self.len(fields.len());
        for (key, value) in fields {
            self.str(key);
            self.value(value);
        }
    }

    pub(crate) fn finish(&self) -> u128 {
        self.0.digest128()
    }
}

/// One spelling per numeric value: `1`, `1.0` and `1e0` are the same temperature.
fn canonical_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        // 2^53: below it every integral f64 is exactly an i64
        Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => (f as i64).to_string(),
        Some(f) => format!("{f:?}"),
        None => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hash(v: &Value) -> u128 {
        let mut h = CanonicalHasher::new("test");
        h.value(v);
        h.finish()
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"x":true,"y":null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"y":null,"x":true},"a":1}"#).unwrap();
        assert_eq!(hash(&a), hash(&b));
    }

    #[test]
    fn integral_floats_equal_integers() {
        assert_eq!(hash(&json!(1)), hash(&json!(1.0)));
        assert_eq!(hash(&json!(-0.0)), hash(&json!(0)));
        assert_ne!(hash(&json!(0.5)), hash(&json!(0.25)));
    }

    #[test]
    fn encoding_is_prefix_free() {
        assert_ne!(hash(&json!(["ab", "c"])), hash(&json!(["a", "bc"])));
        assert_ne!(hash(&json!({"a": "b"})), hash(&json!(["a", "b"])));
        assert_ne!(hash(&json!("1")), hash(&json!(1)));
        assert_ne!(hash(&json!(null)), hash(&json!(false)));
    }

    #[test]
    fn domain_separates() {
        let mut a = CanonicalHasher::new("chat");
        let mut b = CanonicalHasher::new("embeddings");
        a.value(&json!({}));
        b.value(&json!({}));
        assert_ne!(a.finish(), b.finish());
    }
}
