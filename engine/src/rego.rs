//! The Rego host shared by relationship inference and policy checks: a
//! regorus interpreter set up for untrusted input, plus the one builtin
//! weft adds (`weft.values`, reading Meshery paths).
//!
//! Untrusted means a pull request may carry both the designs and the
//! policies. regorus has no filesystem builtins, weft builds it without
//! `http.send` and `opa.runtime` (so neither the network nor the
//! environment is reachable), and every evaluation runs under a time limit.

use regorus::{Engine, Value};
use std::num::NonZeroU32;
use std::time::Duration;

/// Wall-clock budget of one evaluation.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(60);

/// A Rego problem with the policy file and position when regorus gives one.
#[derive(Clone, Debug, PartialEq)]
pub struct RegoError {
    pub file: Option<String>,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl RegoError {
    /// regorus renders errors rustc-style: `--> path:line:col`, a source
    /// excerpt, then `error: message`; keep the position as data.
    pub fn parse(error: &anyhow::Error) -> RegoError {
        let text = format!("{error:#}");
        let mut found = RegoError { file: None, line: 0, column: 0, message: String::new() };
        for line in text.lines().map(str::trim) {
            if let Some(location) = line.strip_prefix("-->") {
                let mut parts = location.trim().rsplitn(3, ':');
                if let (Some(column), Some(row), Some(file)) = (parts.next(), parts.next(), parts.next())
                    && let (Ok(row), Ok(column)) = (row.parse(), column.parse())
                {
                    (found.file, found.line, found.column) = (Some(file.to_owned()), row, column);
                }
            } else if let Some(message) = line.strip_prefix("error:") {
                found.message = message.trim().to_owned();
            }
        }
        if found.message.is_empty() {
            found.message = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_owned();
        }
        found
    }
}

pub fn engine(time_limit: Duration) -> Engine {
    let mut engine = Engine::new();
    engine.set_execution_timer_config(timer(time_limit));
    engine
        .add_extension("weft.values".into(), 3, Box::new(values))
        .expect("a fresh engine has no extensions");
    engine
}

/// The wall-clock budget of one evaluation, checked every 1000 steps.
pub fn timer(limit: Duration) -> regorus::utils::limits::ExecutionTimerConfig {
    regorus::utils::limits::ExecutionTimerConfig { limit, check_interval: NonZeroU32::new(1000).expect("non-zero") }
}

/// `weft.values(component, path, bound)`: see policies/README.md.
fn values(args: Vec<Value>) -> anyhow::Result<Value> {
    let [component, path, bound] = <[Value; 3]>::try_from(args).map_err(|_| anyhow::anyhow!("expects 3 arguments"))?;
    let path = path.as_array().map_err(|_| anyhow::anyhow!("path must be an array"))?;
    let bound: Vec<usize> = match &bound {
        Value::Array(items) => items.iter().filter_map(|v| v.as_u64().ok().map(|n| n as usize)).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let mut indices = Vec::new();
    walk(&component, &path.to_vec(), &bound, &mut indices, &mut out);
    Ok(Value::from(out))
}

/// The values at a Meshery path, as `weft.values` returns them but as
/// Rust data: (indices the `_` wildcards took, value).
pub fn path_values(value: &Value, path: &[Value]) -> Vec<(Vec<usize>, Value)> {
    path_values_bound(value, path, &[])
}

/// `path_values` with the first wildcards fixed to `bound`.
pub fn path_values_bound(value: &Value, path: &[Value], bound: &[usize]) -> Vec<(Vec<usize>, Value)> {
    let mut out = Vec::new();
    walk(value, path, bound, &mut Vec::new(), &mut out);
    out.into_iter()
        .filter_map(|pair| {
            let pair = pair.as_array().ok()?;
            let indices = pair.get(0)?.as_array().ok()?.iter().filter_map(|i| i.as_u64().ok().map(|i| i as usize)).collect();
            Some((indices, pair.get(1)?.clone()))
        })
        .collect()
}

fn walk(value: &Value, path: &[Value], bound: &[usize], indices: &mut Vec<usize>, out: &mut Vec<Value>) {
    let Some((segment, rest)) = path.split_first() else {
        if !matches!(value, Value::Null | Value::Undefined) {
            let indices = Value::from(indices.iter().map(|&i| Value::from(i as u64)).collect::<Vec<_>>());
            out.push(Value::from(vec![indices, value.clone()]));
        }
        return;
    };
    match (value, segment) {
        (Value::Array(items), Value::String(s)) if &**s == "_" => match bound.get(indices.len()) {
            Some(&i) => {
                if let Some(item) = items.get(i) {
                    indices.push(i);
                    walk(item, rest, bound, indices, out);
                    indices.pop();
                }
            }
            None => {
                for (i, item) in items.iter().enumerate() {
                    indices.push(i);
                    walk(item, rest, bound, indices, out);
                    indices.pop();
                }
            }
        },
        (Value::Array(items), Value::String(s)) => {
            if let Some(item) = s.parse::<usize>().ok().and_then(|i| items.get(i)) {
                walk(item, rest, bound, indices, out);
            }
        }
        (Value::Array(items), Value::Number(_)) => {
            if let Some(item) = segment.as_u64().ok().and_then(|i| items.get(i as usize)) {
                walk(item, rest, bound, indices, out);
            }
        }
        (Value::Object(fields), _) => {
            if let Some(item) = fields.get(segment) {
                walk(item, rest, bound, indices, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(query: &str, input: serde_json::Value) -> serde_json::Value {
        let mut engine = engine(DEFAULT_TIME_LIMIT);
        engine.add_policy("q.rego".into(), format!("package q\nimport rego.v1\nx := {query}\n")).unwrap();
        engine.set_input(Value::from(input));
        serde_json::from_str(&engine.eval_rule("data.q.x".into()).unwrap().to_json_str().unwrap()).unwrap()
    }

    #[test]
    fn values_reads_meshery_paths_with_wildcards() {
        let input = serde_json::json!({"configuration": {"spec": {"containers": [
            {"name": "a", "envFrom": [{"configMapRef": {"name": "x"}}, {"secretRef": {"name": "s"}}]},
            {"name": "b", "envFrom": [{"configMapRef": {"name": "y"}}]}]}}});
        assert_eq!(
            eval(r#"weft.values(input, ["configuration", "spec", "containers", "_", "envFrom", "_", "configMapRef", "name"], [])"#, input.clone()),
            serde_json::json!([[[0, 0], "x"], [[1, 0], "y"]])
        );
        assert_eq!(
            eval(r#"weft.values(input, ["configuration", "spec", "containers", "_", "name"], [1])"#, input.clone()),
            serde_json::json!([[[1], "b"]])
        );
        assert_eq!(eval(r#"weft.values(input, ["configuration", "spec", "containers", "0", "name"], [])"#, input.clone()), serde_json::json!([[[], "a"]]));
        assert_eq!(eval(r#"weft.values(input, ["configuration", "missing"], [])"#, input), serde_json::json!([]));
    }

    #[test]
    fn no_network_and_no_environment() {
        let mut engine = engine(DEFAULT_TIME_LIMIT);
        for source in [
            "package p\nimport rego.v1\nx := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:9\"})\n",
            "package p\nimport rego.v1\nx := opa.runtime()\n",
        ] {
            let compiled = engine.add_policy("p.rego".into(), source.into());
            let evaluated = compiled.and_then(|_| engine.eval_rule("data.p.x".into()));
            assert!(evaluated.is_err() || evaluated.unwrap() == Value::Undefined, "{source}");
            engine = super::engine(DEFAULT_TIME_LIMIT);
        }
    }

    #[test]
    fn runaway_policies_stop_at_the_time_limit() {
        let mut engine = engine(Duration::from_millis(200));
        engine
            .add_policy("slow.rego".into(), "package slow\nimport rego.v1\nx := count([1 | some a in numbers.range(1, 3000); some b in numbers.range(1, 3000); a != b])\n".into())
            .unwrap();
        let started = std::time::Instant::now();
        assert!(engine.eval_rule("data.slow.x".into()).is_err());
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn errors_keep_their_position() {
        let mut engine = engine(DEFAULT_TIME_LIMIT);
        let error = engine.add_policy("bad.rego".into(), "package bad\nimport rego.v1\nx := {\n".into()).unwrap_err();
        let parsed = RegoError::parse(&error);
        assert_eq!(parsed.file.as_deref(), Some("bad.rego"));
        assert_eq!((parsed.line, parsed.column), (4, 1), "{parsed:?}");
        assert_eq!(parsed.message, "expecting expression");
    }
}
