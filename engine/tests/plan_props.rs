//! Property tests of the plan's comparisons: checking a live object in its
//! JSON text (`holds_in_text`, used while LISTs stream in) must answer
//! exactly as checking the parsed object (`holds`), for objects that hold
//! the desired values, that add fields of their own, and that differ.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use weft::plan::{holds, holds_in_text};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(|n| Value::Number(n.into())),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        (-3i64..3).prop_map(|n| json!(n as f64)),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[a-z0-9]{0,3}".prop_map(Value::String),
        "\\PC{0,8}".prop_map(Value::String),
        Just(json!({})),
        Just(json!([])),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-d]", "[a-z][a-zA-Z0-9_-]{0,6}", "\\PC{0,4}"]
}

fn any_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5).prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// `base` with `extra`'s entries added to its maps (as a server adds
/// defaults and status) and, where `flips` says so, a value replaced.
fn graft(base: &Value, extra: &Value, flips: &mut impl Iterator<Item = bool>) -> Value {
    if flips.next().unwrap_or(false) {
        return extra.clone();
    }
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            let mut out = b.iter().map(|(k, v)| (k.clone(), graft(v, e.get(k).unwrap_or(&Value::Null), flips))).collect::<Map<_, _>>();
            for (k, v) in e {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Value::Object(out)
        }
        (Value::Object(b), _) => Value::Object(b.iter().map(|(k, v)| (k.clone(), graft(v, &Value::Null, flips))).collect()),
        (Value::Array(b), _) => Value::Array(b.iter().map(|v| graft(v, &Value::Null, flips)).collect()),
        (scalar, _) => scalar.clone(),
    }
}

fn same_answer(desired: &Value, live: &Value) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(live).expect("values serialise");
    prop_assert_eq!(holds_in_text(desired, &text), holds(desired, live), "desired {} live {}", desired, text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_live_object_with_additions_is_judged_alike(desired in any_value(), extra in any_value()) {
        let live = graft(&desired, &extra, &mut std::iter::repeat(false));
        same_answer(&desired, &live)?;
    }

    #[test]
    fn a_live_object_with_changes_is_judged_alike(desired in any_value(), extra in any_value(), flips in prop::collection::vec(prop::bool::weighted(0.1), 0..64)) {
        let live = graft(&desired, &extra, &mut flips.into_iter());
        same_answer(&desired, &live)?;
    }

    #[test]
    fn unrelated_values_are_judged_alike(desired in any_value(), live in any_value()) {
        same_answer(&desired, &live)?;
        same_answer(&desired, &desired)?;
    }
}

#[test]
fn checks_skip_what_the_desired_object_does_not_set() {
    let desired = json!({"spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}}}, "metadata": {"annotations": {}}});
    let live = r#"{"metadata":{"name":"web","managedFields":[{"manager":"weft","fieldsV1":{"f:spec":{}}}]},
        "spec":{"replicas":2.0,"template":{"metadata":{"labels":{"app":"web","pod-template-hash":"x"}}},"strategy":{}},"status":{"replicas":2}}"#;
    assert!(holds_in_text(&desired, live));
    assert!(!holds_in_text(&desired, &live.replace("\"replicas\":2.0", "\"replicas\":3")), "a scaled Deployment has drifted");
    assert!(!holds_in_text(&desired, &live.replace("\"app\":\"web\"", "\"app\":\"api\"")));
    assert!(!holds_in_text(&desired, "{\"spec\": "), "truncated text holds nothing");
    assert!(!holds_in_text(&desired, "[]"));
}
