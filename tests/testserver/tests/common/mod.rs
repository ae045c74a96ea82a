//! A minimal blocking HTTP/1.1 client for the tests (no kube dependency).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub struct Client {
    pub addr: String,
}

fn read_head(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// Reads one chunk of a chunked body; None at the end.
fn read_chunk(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut size = String::new();
    r.read_line(&mut size)?;
    if size.is_empty() {
        return Ok(None);
    }
    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
    let mut buf = vec![0; n + 2];
    r.read_exact(&mut buf)?;
    buf.truncate(n);
    Ok(if n == 0 { None } else { Some(buf) })
}

impl Client {
    pub fn new(url: &str) -> Client {
        Client { addr: url.trim_start_matches("http://").to_string() }
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<BufReader<TcpStream>> {
        let mut s = TcpStream::connect(&self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: testclient/1.0\r\nContent-Length: {}\r\n", self.addr, body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        s.write_all(body)?;
        Ok(BufReader::new(s))
    }

    pub fn try_request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Response> {
        let mut r = self.send(method, path, &[headers, &[("Connection", "close")]].concat(), body)?;
        let (status, headers) = read_head(&mut r)?;
        let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let mut body = Vec::new();
        if chunked {
            while let Some(c) = read_chunk(&mut r)? {
                body.extend(c);
            }
        } else {
            r.read_to_end(&mut body)?;
        }
        Ok(Response { status, headers, body })
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.try_request(method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[("Accept", "application/json")], b"")
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.request("POST", path, &[("Content-Type", "application/json")], body.to_string().as_bytes())
    }

    pub fn put(&self, path: &str, body: &Value) -> Response {
        self.request("PUT", path, &[("Content-Type", "application/json")], body.to_string().as_bytes())
    }

    pub fn patch(&self, path: &str, content_type: &str, body: &str) -> Response {
        self.request("PATCH", path, &[("Content-Type", content_type)], body.as_bytes())
    }

    /// Server-side apply of a YAML or JSON body.
    pub fn apply(&self, path: &str, manager: &str, force: bool, body: &str) -> Response {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.patch(&format!("{path}{sep}fieldManager={manager}&force={force}"), "application/apply-patch+yaml", body)
    }

    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[], b"")
    }

    /// Opens a watch; events are read with [`Watch::next`].
    pub fn watch(&self, path: &str) -> Watch {
        let mut r = self.send("GET", path, &[("Accept", "application/json")], b"").expect("watch");
        let (status, _) = read_head(&mut r).expect("watch head");
        assert_eq!(status, 200, "watch {path}");
        Watch { r, buf: Vec::new() }
    }
}

pub struct Watch {
    r: BufReader<TcpStream>,
    buf: Vec<u8>,
}

impl Watch {
    /// The next event, or None when the stream ends or nothing comes within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Value> {
        self.r.get_ref().set_read_timeout(Some(timeout)).unwrap();
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).expect("event JSON"));
            }
            match read_chunk(&mut self.r) {
                Ok(Some(c)) => self.buf.extend(c),
                _ => return None,
            }
        }
    }
}

/// `(type, name)` of an event.
pub fn ev(e: &Value) -> (String, String) {
    (e["type"].as_str().unwrap_or("").to_string(), e["object"]["metadata"]["name"].as_str().unwrap_or("").to_string())
}
