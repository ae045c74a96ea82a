//! Notifications: a JSON event POSTed to a user's webhook (a chat bridge,
//! an incident tool) on sync success, sync failure and drift. Delivery is
//! retried with exponential backoff and never holds up the daemon: each
//! event is sent from its own task.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use std::time::Duration;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `sync-succeeded`, `sync-failed`, `sync-invalid` or `drift`.
    pub event: &'static str,
    pub repo: String,
    pub branch: String,
    pub commit: Option<String>,
    pub message: String,
    /// Objects concerned (drifted ones, for `drift`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
    /// RFC 3339.
    pub time: String,
}

#[derive(Clone)]
pub struct Notifier {
    url: hyper::Uri,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    attempts: u32,
    first_backoff: Duration,
}

impl Notifier {
    pub fn new(url: &str) -> Result<Notifier, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("notification URL {url}: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(format!("notification URL {url}: only http and https are supported"));
        }
        let tls = hyper_rustls::HttpsConnectorBuilder::new().try_with_platform_verifier().map_err(|e| format!("cannot set up TLS for notifications: {e}"))?;
        let https = tls.https_or_http().enable_http1().build();
        Ok(Notifier { url: uri, client: Client::builder(TokioExecutor::new()).build(https), attempts: 5, first_backoff: Duration::from_millis(500) })
    }

    /// Sends `event`, retrying on connection errors and 5xx/429 answers
    /// (0.5 s, 1 s, 2 s, 4 s apart); whether it was delivered.
    pub async fn send(&self, event: &Event) -> bool {
        let body = Bytes::from(serde_json::to_vec(event).expect("an event serialises"));
        let mut backoff = self.first_backoff;
        for attempt in 1..=self.attempts {
            let request = hyper::Request::post(self.url.clone())
                .header("content-type", "application/json")
                .header("user-agent", concat!("weft/", env!("CARGO_PKG_VERSION")))
                .body(Full::new(body.clone()))
                .expect("a valid request");
            let retry = match tokio::time::timeout(Duration::from_secs(10), self.client.request(request)).await {
                Ok(Ok(response)) if response.status().is_success() => return true,
                Ok(Ok(response)) => {
                    let code = response.status();
                    tracing::warn!(url = %self.url, status = code.as_u16(), attempt, "notification refused");
                    code.is_server_error() || code == hyper::StatusCode::TOO_MANY_REQUESTS
                }
                Ok(Err(e)) => {
                    tracing::warn!(url = %self.url, error = %e, attempt, "notification not delivered");
                    true
                }
                Err(_) => {
                    tracing::warn!(url = %self.url, attempt, "notification timed out");
                    true
                }
            };
            if !retry || attempt == self.attempts {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        tracing::error!(url = %self.url, event = event.event, "notification dropped after retries");
        false
    }
}
