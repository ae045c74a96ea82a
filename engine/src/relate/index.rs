//! Index tables for the inference policy: the from side of every rule
//! keyed by the values of its key refs, and the keys each to-side facet
//! probes with. The keys encode the match strategies exactly, so a probe
//! finds precisely the candidates whose key refs match; the policy decides
//! everything else (subset tests, other refs, deny selectors, checks).
//!
//! - `equal`: the value itself (regorus values compare structurally).
//! - `string` (`equal_as_strings`): the value formatted as a string;
//!   numbers in decimal, so `8080` and `"8080"` meet.
//! - `contains` (`to_contains_from`, join ref only): a from value (a
//!   selector) is indexed under its smallest entry, which every to value
//!   containing it must also hold; a to value (labels) probes with each of
//!   its entries. The policy then tests the whole subset.

use regorus::Value;

pub fn as_string(value: &Value) -> Value {
    match value {
        Value::String(_) => value.clone(),
        Value::Number(_) | Value::Bool(_) | Value::Null => Value::from(value.to_json_str().unwrap_or_default().as_str()),
        other => Value::from(other.to_json_str().unwrap_or_default().as_str()),
    }
}

/// The key a from-side value is indexed under; `None` when it can match
/// nothing (an empty selector).
pub fn index_key(kind: &str, value: &Value) -> Option<Value> {
    match kind {
        "equal" => Some(value.clone()),
        "string" => Some(as_string(value)),
        _ => match value {
            Value::Object(entries) => {
                let (k, v) = entries.iter().next()?;
                Some(Value::from(vec![Value::from("entry"), k.clone(), v.clone()]))
            }
            Value::Array(items) => Some(Value::from(vec![Value::from("item"), items.iter().min()?.clone()])),
            Value::Null => None,
            other => Some(other.clone()),
        },
    }
}

/// The keys a to-side value probes with.
pub fn probe_keys(kind: &str, value: &Value) -> Vec<Value> {
    match (kind, value) {
        ("contains", Value::Object(entries)) => {
            entries.iter().map(|(k, v)| Value::from(vec![Value::from("entry"), k.clone(), v.clone()])).collect()
        }
        ("contains", Value::Array(items)) => items.iter().map(|x| Value::from(vec![Value::from("item"), x.clone()])).collect(),
        ("contains", Value::Null) => Vec::new(),
        _ => index_key(kind, value).into_iter().collect(),
    }
}

/// A composite key: the join ref's key then the others'. Only the join
/// ref may probe with several keys.
pub fn composite_index_key(kinds: &[&str], values: &[Value]) -> Option<Value> {
    kinds.iter().zip(values).map(|(kind, value)| index_key(kind, value)).collect::<Option<Vec<_>>>().map(Value::from)
}

pub fn composite_probe_keys(kinds: &[&str], values: &[Value]) -> Vec<Value> {
    let Some(rest) = kinds[1..].iter().zip(&values[1..]).map(|(k, v)| index_key(k, v)).collect::<Option<Vec<_>>>() else {
        return Vec::new();
    };
    probe_keys(kinds[0], &values[0])
        .into_iter()
        .map(|first| {
            let mut key = Vec::with_capacity(rest.len() + 1);
            key.push(first);
            key.extend(rest.iter().cloned());
            Value::from(key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: serde_json::Value) -> Value {
        Value::from(json)
    }

    #[test]
    fn subset_keys_meet_for_every_superset() {
        let selector = v(serde_json::json!({"app": "web", "tier": "front"}));
        let labels = v(serde_json::json!({"app": "web", "tier": "front", "version": "v2"}));
        let key = index_key("contains", &selector).unwrap();
        assert!(probe_keys("contains", &labels).contains(&key));
        assert_eq!(index_key("contains", &v(serde_json::json!({}))), None);
    }

    #[test]
    fn strings_and_numbers_meet_as_strings() {
        assert_eq!(as_string(&v(serde_json::json!(8080))), as_string(&v(serde_json::json!("8080"))));
        assert_ne!(index_key("equal", &v(serde_json::json!(8080))), index_key("equal", &v(serde_json::json!("8080"))));
    }
}
