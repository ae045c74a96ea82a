//! Connections to the target: TCP (and TLS for https), hyper's low-level
//! HTTP/1.1 and HTTP/2 handshakes, and the prebuilt request.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::{Method, Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use tokio::net::TcpStream;

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
        Ok(Target { http2: settings.http2, uri, addrs, tls, method, request_uri, headers, body: Bytes::from(settings.body.clone()) })
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
}

impl Sender {
    /// Ready for the next request; an error means the connection is gone.
    pub async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::H1(sender) => sender.ready().await,
            Sender::H2(sender) => sender.ready().await,
        }
    }

    pub async fn send(&mut self, request: Request<Body>) -> Result<Response<Incoming>, hyper::Error> {
        match self {
            Sender::H1(sender) => sender.send_request(request).await,
            Sender::H2(sender) => sender.send_request(request).await,
        }
    }
}

/// Reads a response body to its end, keeping nothing.
pub(super) async fn discard(mut body: Incoming) -> Result<(), hyper::Error> {
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
