//! The target's CPU and memory over a test window, from Prometheus, as
//! Meshery adds node metrics to its results. Each query is asked for the
//! window with `query_range`; its average and maximum over every point
//! become `<name>_avg` and `<name>_max` in the result's environment.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One PromQL expression and the name its figures take.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub name: String,
    pub promql: String,
}

/// node-exporter's CPU busy share and used memory; with a pod (namespace
/// and a name regex), cAdvisor's CPU and working set of its containers.
pub fn default_queries(pod: Option<(&str, &str)>) -> Vec<Query> {
    let query = |name: &str, promql: String| Query { name: name.to_owned(), promql };
    let mut queries = vec![
        query("node_cpu_percent", r#"100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m])))"#.to_owned()),
        query("node_memory_used_mib", "(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / 1048576".to_owned()),
    ];
    if let Some((namespace, pod)) = pod {
        let selector = format!(r#"namespace="{namespace}",pod=~"{pod}",container!="""#);
        queries.push(query("pod_cpu_cores", format!("sum(rate(container_cpu_usage_seconds_total{{{selector}}}[1m]))")));
        queries.push(query("pod_memory_mib", format!("sum(container_memory_working_set_bytes{{{selector}}}) / 1048576")));
    }
    queries
}

/// `NAME=PROMQL`.
pub fn parse_query(text: &str) -> Result<Query, String> {
    let (name, promql) = text.split_once('=').ok_or_else(|| format!("query `{text}`: expected NAME=PROMQL"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("query `{text}`: the name must be letters, digits and _"));
    }
    Ok(Query { name: name.to_owned(), promql: promql.to_owned() })
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    values: Vec<(f64, String)>,
}

/// Asks Prometheus at `base` (e.g. `http://127.0.0.1:9090`) for every
/// query over [start, end]; `<name>_avg` and `<name>_max` of each that
/// returned points. A query without data is left out and named in the
/// second list.
pub async fn query_window(base: &str, queries: &[Query], start: jiff::Timestamp, end: jiff::Timestamp) -> Result<(BTreeMap<String, f64>, Vec<String>), String> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let seconds = (end.as_second() - start.as_second()).max(1);
    // About 100 points over the window, at least one a second.
    let step = (seconds / 100).max(1);
    let mut figures = BTreeMap::new();
    let mut empty = Vec::new();
    for query in queries {
        let parameters: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", &query.promql)
            .append_pair("start", &start.as_second().to_string())
            .append_pair("end", &end.as_second().to_string())
            .append_pair("step", &format!("{step}s"))
            .finish();
        let url = format!("{}/api/v1/query_range?{parameters}", base.trim_end_matches('/'));
        let uri: hyper::Uri = url.parse().map_err(|e| format!("Prometheus URL {base}: {e}"))?;
        let response = tokio::time::timeout(std::time::Duration::from_secs(10), client.get(uri))
            .await
            .map_err(|_| format!("Prometheus at {base} did not answer within 10 s"))?
            .map_err(|e| format!("Prometheus at {base}: {e}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| format!("Prometheus at {base}: {e}"))?.to_bytes();
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| format!("Prometheus at {base} answered {status} with something else than a query result: {e}"))?;
        if answer.status != "success" {
            return Err(format!("Prometheus refused query {} ({}): {}", query.name, query.promql, answer.error.unwrap_or_default()));
        }
        let points: Vec<f64> = answer.data.map(|d| d.result).unwrap_or_default().iter().flat_map(|s| &s.values).filter_map(|(_, v)| v.parse::<f64>().ok()).filter(|v| v.is_finite()).collect();
        if points.is_empty() {
            empty.push(query.name.clone());
            continue;
        }
        let average = points.iter().sum::<f64>() / points.len() as f64;
        let max = points.iter().copied().fold(f64::MIN, f64::max);
        figures.insert(format!("{}_avg", query.name), average);
        figures.insert(format!("{}_max", query.name), max);
    }
    Ok((figures, empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_named_and_pods_add_cadvisor_queries() {
        let names: Vec<String> = default_queries(Some(("shop", "web-.*"))).into_iter().map(|q| q.name).collect();
        assert_eq!(names, ["node_cpu_percent", "node_memory_used_mib", "pod_cpu_cores", "pod_memory_mib"]);
        assert!(default_queries(Some(("shop", "web-.*")))[2].promql.contains(r#"namespace="shop",pod=~"web-.*""#));
        assert_eq!(parse_query("rps=sum(rate(x[1m]))").unwrap(), Query { name: "rps".into(), promql: "sum(rate(x[1m]))".into() });
        assert!(parse_query("no-equals").is_err());
        assert!(parse_query("bad name=x").is_err());
    }
}
