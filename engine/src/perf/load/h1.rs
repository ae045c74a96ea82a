//! A lean HTTP/1.1 exchange for plain `http://` targets: the request is
//! one prebuilt buffer written as is, the response head is parsed in
//! place by `httparse` (hyper's own parser) into a stack array of
//! headers, and the body is skipped without being copied or kept. hyper's
//! client (still used for h2 and https) spends about 2–3 µs of CPU per
//! request on channels, header maps and body plumbing, which on loopback
//! is a quarter of the generator's cost per request and made it slower
//! than wrk; this path costs well under a microsecond. Only the framing
//! decisions and the buffer handling are written here.
//!
//! Handled: Content-Length, chunked (sizes read by
//! `httparse::parse_chunk_size`) and read-until-close bodies, 1xx interim
//! responses, bodiless answers (HEAD, 204, 304), `Connection: close` and
//! HTTP/1.0 peers. Anything httparse refuses, or otherwise malformed, is
//! an `http` error.

use super::stats::Failure;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;
/// A head with more headers than this is refused (hyper's default).
const MAX_HEADERS: usize = 100;
/// A chunk-size line (with its extensions) or trailer line longer than
/// this is refused.
const MAX_LINE: usize = 4096;
const BUFFER: usize = 16 * 1024;
/// A connection idle longer than this is checked for a close from the
/// peer before it is used (an idle keep-alive timeout is not an error).
const IDLE_PROBE: Duration = Duration::from_millis(10);

pub(super) struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    last_used: Instant,
}

/// A complete exchange.
pub(super) struct Answer {
    pub status: u16,
    /// False when the peer closes the connection after this answer.
    pub keep_alive: bool,
}

/// What a response head says.
struct Head {
    status: u16,
    framing: Framing,
    /// False when the peer closes the connection after this response.
    keep_alive: bool,
}

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Connection {
        Connection { stream, buf: vec![0; BUFFER], start: 0, end: 0, last_used: Instant::now() }
    }

    /// False when the peer closed the connection while it was idle.
    pub fn alive(&mut self) -> bool {
        if self.last_used.elapsed() < IDLE_PROBE {
            return true;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Sends `request` and reads the answer to its end.
    pub async fn exchange(&mut self, request: &[u8], head: bool) -> Result<Answer, Failure> {
        self.stream.write_all(request).await.map_err(|_| Failure::Io)?;
        let answer = loop {
            let Head { status, framing, keep_alive } = self.head(head).await?;
            if (100..200).contains(&status) && status != 101 {
                continue; // interim (100 Continue, 103 Early Hints)
            }
            let keep_alive = match framing {
                Framing::None => keep_alive,
                Framing::Length(n) => {
                    self.skip(n).await?;
                    keep_alive
                }
                Framing::Chunked => {
                    self.chunks().await?;
                    keep_alive
                }
                Framing::UntilClose => {
                    self.start = 0;
                    self.end = 0;
                    while self.read().await? > 0 {
                        self.start = 0;
                        self.end = 0;
                    }
                    false
                }
            };
            break Answer { status, keep_alive };
        };
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        self.last_used = Instant::now();
        Ok(answer)
    }

    /// Reads more into the buffer; 0 at the end of the stream.
    async fn read(&mut self) -> Result<usize, Failure> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < MAX_HEAD {
                self.buf.resize(self.buf.len() * 2, 0);
            } else {
                return Err(Failure::Http);
            }
        }
        let n = tokio::io::AsyncReadExt::read(&mut self.stream, &mut self.buf[self.end..]).await.map_err(|_| Failure::Io)?;
        self.end += n;
        Ok(n)
    }

    /// More bytes, or an `io` failure at the end of the stream.
    async fn more(&mut self) -> Result<(), Failure> {
        match self.read().await? {
            0 => Err(Failure::Io),
            _ => Ok(()),
        }
    }

    /// Reads the next response head: status, body framing, keep-alive.
    async fn head(&mut self, head_request: bool) -> Result<Head, Failure> {
        loop {
            if let Some((length, answer)) = parse_head(&self.buf[self.start..self.end], head_request)? {
                self.start += length;
                return Ok(answer);
            }
            if self.end - self.start > MAX_HEAD {
                return Err(Failure::Http);
            }
            self.more().await?;
        }
    }

    /// Skips `n` bytes of body.
    async fn skip(&mut self, mut n: usize) -> Result<(), Failure> {
        loop {
            let available = self.end - self.start;
            if available >= n {
                self.start += n;
                return Ok(());
            }
            n -= available;
            self.start = 0;
            self.end = 0;
            self.more().await?;
        }
    }

    /// One line (without CRLF), as a range of the buffer.
    async fn line(&mut self) -> Result<std::ops::Range<usize>, Failure> {
        loop {
            if let Some(at) = find(&self.buf[self.start..self.end], b"\r\n") {
                let range = self.start..self.start + at;
                self.start += at + 2;
                return Ok(range);
            }
            if self.end - self.start > MAX_LINE {
                return Err(Failure::Http);
            }
            self.more().await?;
        }
    }

    /// Skips a chunked body and its trailers.
    async fn chunks(&mut self) -> Result<(), Failure> {
        loop {
            let size = loop {
                let pending = &self.buf[self.start..self.end];
                match httparse::parse_chunk_size(pending) {
                    // httparse reads a line without digits as size 0.
                    Ok(httparse::Status::Complete((used, size))) if pending[0].is_ascii_hexdigit() => {
                        self.start += used;
                        break usize::try_from(size).map_err(|_| Failure::Http)?;
                    }
                    Ok(httparse::Status::Partial) if pending.len() <= MAX_LINE => self.more().await?,
                    _ => return Err(Failure::Http),
                }
            };
            if size == 0 {
                // Trailers, up to an empty line.
                while !self.line().await?.is_empty() {}
                return Ok(());
            }
            self.skip(size).await?;
            if !self.line().await?.is_empty() {
                return Err(Failure::Http);
            }
        }
    }
}

/// Parses a response head at the start of `bytes` with httparse: its
/// length and what it says, or None while incomplete.
fn parse_head(bytes: &[u8], head_request: bool) -> Result<Option<(usize, Head)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(bytes) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::Http),
    };
    let (Some(version), Some(status)) = (response.version, response.code) else { return Err(Failure::Http) };
    let (mut content_length, mut chunked, mut close, mut keep_alive) = (None, false, false, false);
    for header in response.headers.iter() {
        let (name, value) = (header.name.as_bytes(), trim(header.value));
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value).ok().and_then(|v| v.parse::<usize>().ok()).ok_or(Failure::Http)?;
            if content_length.is_some_and(|l| l != n) {
                return Err(Failure::Http);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value.rsplit(|b| *b == b',').next().is_some_and(|last| trim(last).eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                close = true; // an encoding we cannot frame: read to the end
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|b| *b == b',').map(trim) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let reuse = !close && (version != 0 || keep_alive);
    let framing = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else {
        content_length.map_or(Framing::UntilClose, Framing::Length)
    };
    Ok(Some((length, Head { status, framing, keep_alive: reuse })))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// The request as bytes on the wire.
pub(super) fn encode(method: &str, path: &str, headers: &hyper::HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut has_length = false;
    for (name, value) in headers {
        has_length |= name == hyper::header::CONTENT_LENGTH;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let needs_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if needs_length && !has_length {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
