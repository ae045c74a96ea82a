//! Connections to the target: TCP (and TLS for https), hyper's low-level
//! HTTP/1.1 and HTTP/2 handshakes, and the prebuilt request.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use tokio::net::TcpStream;
use super::stats::Failure;

pub(super) type Body = Full<Bytes>;
type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Where to connect and what to send, built once per run.
pub(super) struct Target {
    pub http2: bool,
    uri: Uri,
    /// Resolved once (plain http); https goes through hyper-rustls's
    /// connector, which resolves per connection.
    addrs: Vec<SocketAddr>,
    tls: Option<Https>,
    method: Method,
    /// Origin-form for HTTP/1.1 (with a Host header), absolute for h2
    /// (hyper takes `:scheme` and `:authority` from it).
    request_uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// Plain http, HTTP/1.1: the whole request on the wire, for the lean
    /// exchange (`h1`); None when hyper's client sends it.
    pub wire: Option<Bytes>,
    pub head: bool,
}

impl Target {
    pub fn new(settings: &super::Settings) -> Result<Target, String> {
        let uri: Uri = settings.url.parse().map_err(|e| format!("`{}` is not a URL: {e}", settings.url))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("`{}`: only http:// and https:// URLs can be loaded", settings.url)),
        };
        let authority = uri.authority().ok_or_else(|| format!("`{}` names no host", settings.url))?.clone();
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let method = Method::from_bytes(settings.method.as_bytes()).map_err(|_| format!("`{}` is not an HTTP method", settings.method))?;
        let mut headers = HeaderMap::new();
        if !settings.http2 {
            headers.insert(HOST, HeaderValue::from_str(authority.as_str()).map_err(|e| format!("host of `{}`: {e}", settings.url))?);
        }
        for (name, value) in &settings.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("`{name}` is not a header name"))?;
            let value = HeaderValue::from_str(value).map_err(|_| format!("header {name}: `{value}` is not a header value"))?;
            if settings.http2 && name == HOST {
                continue; // h2 carries it as :authority
            }
            if name == HOST {
                headers.insert(name, value);
            } else {
                headers.append(name, value);
            }
        }
        let request_uri: Uri = if settings.http2 { uri.clone() } else { path.parse().map_err(|e| format!("path of `{}`: {e}", settings.url))? };
        let (addrs, tls) = if https {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            let builder = hyper_rustls::HttpsConnectorBuilder::new()
                .try_with_platform_verifier()
                .map_err(|e| format!("cannot set up TLS: {e}"))?
                .https_only();
            // ALPN offers only the protocol asked for.
            let tls = if settings.http2 { builder.enable_http2().wrap_connector(http) } else { builder.enable_http1().wrap_connector(http) };
            (Vec::new(), Some(tls))
        } else {
            let addrs: Vec<SocketAddr> = (host.as_str(), port).to_socket_addrs().map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
            if addrs.is_empty() {
                return Err(format!("cannot resolve {host}: no address"));
            }
            (addrs, None)
        };
        let lean = !https && !settings.http2 && !super::HYPER_H1.load(std::sync::atomic::Ordering::Relaxed);
        let wire = lean.then(|| Bytes::from(super::h1::encode(method.as_str(), request_uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"), &headers, &settings.body)));
        let head = method == Method::HEAD;
        Ok(Target { http2: settings.http2, uri, addrs, tls, method, request_uri, headers, body: Bytes::from(settings.body.clone()), wire, head })
    }

    /// A fresh request; every part is a cheap clone of the prebuilt one.
    #[inline]
    pub fn request(&self) -> Request<Body> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.request_uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }

    /// Opens one connection and does the HTTP handshake. The returned
    /// future drives the connection; poll it alongside the requests.
    pub async fn connect(&self) -> Result<(Sender, Driver), String> {
        match &self.tls {
            None => {
                let mut last = None;
                for addr in &self.addrs {
                    match TcpStream::connect(addr).await {
                        Ok(stream) => {
                            let _ = stream.set_nodelay(true);
                            if self.wire.is_some() {
                                return Ok((Sender::Lean(super::h1::Connection::new(stream)), Box::pin(std::future::pending())));
                            }
                            return self.handshake(TokioIo::new(stream)).await;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.map(|e| e.to_string()).unwrap_or_else(|| "no address".to_owned()))
            }
            Some(tls) => {
                use tower_service::Service;
                let mut tls = tls.clone();
                std::future::poll_fn(|cx| tls.poll_ready(cx)).await.map_err(|e| e.to_string())?;
                let stream = tls.call(self.uri.clone()).await.map_err(|e| e.to_string())?;
                self.handshake(stream).await
            }
        }
    }

    async fn handshake<T>(&self, io: T) -> Result<(Sender, Driver), String>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        if self.http2 {
            let (sender, connection) = http2::Builder::new(TokioExecutor::new()).handshake(io).await.map_err(|e| e.to_string())?;
            Ok((Sender::H2(sender), Box::pin(async move { let _ = connection.await; })))
        } else {
            let (sender, connection) = http1::Builder::new().handshake(io).await.map_err(|e| e.to_string())?;
            Ok((Sender::H1(sender), Box::pin(async move { let _ = connection.await; })))
        }
    }
}

/// Drives a connection's I/O; ends when the connection closes.
pub(super) type Driver = Pin<Box<dyn Future<Output = ()>>>;

pub(super) enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
    Lean(super::h1::Connection),
}

impl Sender {
    /// Ready for the next request; false when the connection is gone.
    pub async fn ready(&mut self) -> bool {
        match self {
            Sender::H1(sender) => sender.ready().await.is_ok(),
            Sender::H2(sender) => sender.ready().await.is_ok(),
            Sender::Lean(connection) => connection.alive(),
        }
    }

    /// One request and its answer, read to the end: the status, and
    /// whether the connection can carry another request.
    pub async fn exchange(&mut self, target: &Target) -> Result<(u16, bool), Failure> {
        let response = match self {
            Sender::Lean(connection) => {
                let wire = target.wire.as_deref().expect("lean connections have the request as bytes");
                return connection.exchange(wire, target.head).await.map(|answer| (answer.status, answer.keep_alive));
            }
            Sender::H1(sender) => sender.send_request(target.request()).await,
            Sender::H2(sender) => sender.send_request(target.request()).await,
        };
        let response = response.map_err(|error| failure_of(&error))?;
        let status = response.status().as_u16();
        discard(response.into_body()).await.map_err(|error| failure_of(&error))?;
        Ok((status, true))
    }
}

/// `http` for what the peer said wrong (a malformed response, a protocol
/// error), `io` for a connection that broke.
fn failure_of(error: &hyper::Error) -> Failure {
    if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() || error.is_user() {
        return Failure::Http;
    }
    if error.is_timeout() {
        return Failure::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return Failure::Io;
        }
        // h2 protocol errors (GOAWAY with an error, stream resets).
        if cause.to_string().contains("protocol") {
            return Failure::Http;
        }
        source = cause.source();
    }
    Failure::Io
}

/// Reads a response body to its end, keeping nothing.
async fn discard(mut body: Incoming) -> Result<(), hyper::Error> {
    while !body.is_end_stream() {
        match body.frame().await {
            Some(frame) => {
                frame?;
            }
            None => break,
        }
    }
    Ok(())
}
