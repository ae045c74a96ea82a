//! YAML (and JSON, which YAML reads too) into a tree in which every node
//! keeps its source position, so later stages can turn a JSON pointer into
//! `file:line:column`.
//!
//! Parsing is serde-saphyr's: it rejects duplicate keys, caps alias expansion
//! and nesting through its budget, and never panics. We only shape the result.

use crate::diagnostic::{Diagnostic, Span, codes};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// Caps that keep hostile input cheap. Defaults suit real repositories: the
/// largest real CRD bundles nest about 40 levels and hold a few hundred
/// thousand nodes.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file_size: u64,
    pub max_depth: usize,
    pub max_alias_replay: usize,
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 16 * 1024 * 1024,
            max_depth: 128,
            max_alias_replay: 100_000,
            max_nodes: 10_000_000,
        }
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The node a JSON pointer (RFC 6901) names, if it exists.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for segment in pointer_segments(pointer) {
            node = node.child(&segment)?;
        }
        Some(node)
    }

    /// The span of the deepest node on the pointer's path: where to point
    /// when the pointer names something absent (a missing required field
    /// is reported at the object that lacks it). Keys are preferred to
    /// values so the caret lands on `replicas:` rather than on its value.
    pub fn locate(&self, pointer: &str) -> Span {
        let mut node = self;
        let mut span = self.span;
        for segment in pointer_segments(pointer) {
            match &node.value {
                Value::Map(entries) => match entries.iter().find(|e| e.key == segment) {
                    Some(entry) => {
                        span = entry.key_span;
                        node = &entry.value;
                    }
                    None => break,
                },
                Value::Seq(items) => match segment.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(item) => {
                        span = item.span;
                        node = item;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        span
    }

    fn child(&self, segment: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(_) => self.get(segment),
            Value::Seq(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => serde_json::Value::Object(
                entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect(),
            ),
        }
    }
}

fn pointer_segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
}

/// Escapes one JSON-pointer segment.
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Parses every document of a YAML stream. Empty documents (a stray `---`)
/// are dropped, as kubectl drops them. `file` only labels diagnostics.
pub fn parse_stream(file: &str, text: &str, limits: &Limits) -> Result<Vec<Node>, Diagnostic> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    budget.max_nodes = limits.max_nodes;
    budget.max_events = limits.max_nodes.saturating_mul(3);
    budget.max_documents = 100_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = limits.max_alias_replay;
    options.with_snippet = false;
    let docs: Result<Vec<Spanned<Value>>, _> =
        serde_saphyr::from_str_multiple_with_options(text, options);
    match docs {
        Ok(docs) => Ok(docs.into_iter().map(node).collect()),
        Err(error) => Err(yaml_error(file, &error, limits)),
    }
}

fn yaml_error(file: &str, error: &serde_saphyr::Error, limits: &Limits) -> Diagnostic {
    use serde_saphyr::Error as E;
    let message = error.without_snippet().to_string();
    let lowered = message.to_ascii_lowercase();
    let code = match error {
        E::DuplicateMappingKey { .. } => &codes::DUPLICATE_KEY,
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => &codes::ALIAS_LIMIT,
        E::Budget { .. } if lowered.contains("depth") => &codes::NESTING_LIMIT,
        E::Budget { .. } => &codes::ALIAS_LIMIT,
        _ if lowered.contains("duplicate") => &codes::DUPLICATE_KEY,
        _ if lowered.contains("depth") || lowered.contains("nesting") => &codes::NESTING_LIMIT,
        _ => &codes::YAML_SYNTAX,
    };
    let span = error.location().map(|loc| span_of(&loc));
    let message = match error {
        E::DuplicateMappingKey { key, .. } => match key {
            Some(key) => format!("duplicate key `{key}`"),
            None => "duplicate mapping key".to_owned(),
        },
        _ if std::ptr::eq(code, &codes::NESTING_LIMIT) => format!("nesting deeper than {} levels", limits.max_depth),
        _ => strip_position(&message),
    };
    Diagnostic::new(code, message).at(file, span)
}

/// serde-saphyr appends "at line L column C" to messages; we show the
/// position separately, so drop it from the text.
fn strip_position(message: &str) -> String {
    let cut = [" at line ", "line "]
        .iter()
        .filter_map(|p| message.find(p))
        .filter(|&i| message[i..].contains("column"))
        .min();
    let trimmed = match cut {
        Some(0) => message.split_once(": ").map_or(message, |(_, rest)| rest),
        Some(i) => &message[..i],
        None => message,
    };
    trimmed.trim_end_matches([':', ',', ' ']).to_string()
}


/// Byte offset of a 1-based line and character column.
pub fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            return offset
                + l.char_indices().nth(column.saturating_sub(1) as usize).map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

/// Line and column (1-based) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line as u32, column as u32)
}

fn node(spanned: Spanned<Value>) -> Node {
    Node { span: span_of(&spanned.referenced), value: spanned.value }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

fn span_of(loc: &serde_saphyr::Location) -> Span {
    Span {
        line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
        column: u32::try_from(loc.column()).unwrap_or(u32::MAX),
        len: u32::try_from(loc.span().byte_len().unwrap_or(0)).unwrap_or(0),
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map(|v| Value::Number(v.into())).unwrap_or_else(|_| Value::String(v.to_string())))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(u64::try_from(v).map(|v| Value::Number(v.into())).unwrap_or_else(|_| Value::String(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::String(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(Node { span: span_of(&item.referenced), value: item.value });
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<Entry> = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(key) = map.next_key::<Spanned<KeyString>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push(Entry {
                key: key.value.0,
                key_span: span_of(&key.referenced),
                value: Node { span: span_of(&value.referenced), value: value.value },
            });
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key as text. Kubernetes keys are strings, but YAML allows
/// `80: http` or `true: x`; those keep their spelling as a string.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyString, E> {
                Ok(KeyString(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".into()))
            }
            fn visit_none<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".into()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}
