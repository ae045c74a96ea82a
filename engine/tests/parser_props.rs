//! Property tests of the YAML layer and the loader: values survive a trip
//! through text, every located position points at the value it names, and
//! arbitrary input never panics. Case counts are bounded to keep the
//! default test run short; the fuzzer (engine/fuzz) explores further.

use proptest::prelude::*;
use serde_json::{Map, Value};
use weft::load::load_bytes;
use weft::load::yaml::{Limits, line_column, offset_of, parse_stream};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        "[a-zA-Z0-9 _./:-]{0,12}".prop_map(Value::String),
        "\\PC{0,8}".prop_map(Value::String),
    ]
}

/// A document: a mapping at the top, as designs and manifests are (a bare
/// `null` document is dropped like an empty one).
fn json_value() -> impl Strategy<Value = Value> {
    any_value().prop_map(|v| serde_json::json!({ "root": v }))
}

fn any_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[a-z][a-zA-Z0-9_-]{0,8}", inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every pointer to a node of `value`, with the node.
fn pointers(value: &Value, prefix: String, out: &mut Vec<(String, Value)>) {
    out.push((prefix.clone(), value.clone()));
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{prefix}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                pointers(item, format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// JSON text is YAML: parsing it gives back the same value.
    #[test]
    fn json_text_round_trips(value in json_value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { serde_json::to_string(&value).unwrap() };
        let docs = parse_stream("t.json", &text, &Limits::default()).unwrap();
        prop_assert_eq!(docs.len(), 1);
        prop_assert_eq!(docs[0].to_json(), value);
    }

    /// YAML written by a serializer parses back to the same value.
    #[test]
    fn yaml_text_round_trips(value in json_value()) {
        let text = serde_saphyr::to_string(&value).unwrap();
        let docs = parse_stream("t.yaml", &text, &Limits::default()).unwrap();
        let parsed = docs.first().map(|d| d.to_json()).unwrap_or(Value::Null);
        prop_assert_eq!(parsed, value, "text:\n{}", text);
    }

    /// The position of every scalar is where its text starts.
    #[test]
    fn scalar_positions_point_at_the_scalar(value in json_value()) {
        let text = serde_json::to_string_pretty(&value).unwrap();
        let docs = parse_stream("t.json", &text, &Limits::default()).unwrap();
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        for (pointer, node) in all {
            let located = docs[0].pointer(&pointer).expect("pointer resolves");
            prop_assert_eq!(&located.to_json(), &node);
            if matches!(node, Value::Array(_) | Value::Object(_)) {
                continue;
            }
            let span = located.span;
            let offset = offset_of(&text, span.line, span.column);
            let expected = serde_json::to_string(&node).unwrap();
            prop_assert!(text[offset..].starts_with(&expected), "{} at {}:{} in\n{}", pointer, span.line, span.column, text);
            prop_assert_eq!(line_column(&text, offset), (span.line, span.column));
        }
    }

    /// Arbitrary text and bytes give designs or diagnostics, never a panic.
    #[test]
    fn arbitrary_input_never_panics(text in "(\\PC|[\\n\\t:{}\\[\\]&*!|>'\"#-]){0,200}") {
        let limits = Limits { max_file_size: 1 << 20, max_depth: 32, max_alias_replay: 1000, max_nodes: 10_000 };
        let (_, diagnostics) = load_bytes("fuzz.yaml", text.as_bytes(), &limits);
        for d in diagnostics {
            prop_assert!(!d.message.is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), archive in any::<bool>()) {
        let limits = Limits { max_file_size: 1 << 16, max_depth: 32, max_alias_replay: 1000, max_nodes: 10_000 };
        let name = if archive { "fuzz.tar" } else { "fuzz.yaml" };
        let _ = load_bytes(name, &bytes, &limits);
    }

    /// Objects mutated at random keep loading into components or diagnostics.
    #[test]
    fn manifests_with_random_metadata(name in "\\PC{0,20}", namespace in proptest::option::of("[a-z0-9-]{0,10}"), kind in "[A-Za-z]{0,10}") {
        let mut object = serde_json::json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = namespace {
            object["metadata"]["namespace"] = Value::String(ns);
        }
        let text = serde_json::to_string(&object).unwrap();
        let (designs, diagnostics) = load_bytes("m.yaml", text.as_bytes(), &Limits::default());
        let components: usize = designs.iter().map(|d| d.components.len()).sum();
        prop_assert_eq!(components + diagnostics.iter().filter(|d| d.is_error()).count(), 1);
    }
}
