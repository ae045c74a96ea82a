//! A lean HTTP/1.1 exchange for plain `http://` targets: the request is
//! one prebuilt buffer written as is, the response head is scanned in
//! place and the body skipped without being copied or kept. hyper's
//! client (still used for h2 and https) spends about 2–3 µs of CPU per
//! request on channels, header maps and body plumbing, which on loopback
//! is a quarter of the generator's cost per request and made it slower
//! than wrk; this path costs well under a microsecond.
//!
//! Handled: Content-Length, chunked and read-until-close bodies, 1xx
//! interim responses, bodiless answers (HEAD, 204, 304), `Connection:
//! close` and HTTP/1.0 peers. Anything else malformed is an `http` error.

use super::stats::Failure;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A head larger than this is refused.
const MAX_HEAD: usize = 64 * 1024;
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
            let (status, framing, keep_alive) = self.head(head).await?;
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

    /// Parses the next response head: status, body framing, keep-alive.
    async fn head(&mut self, head_request: bool) -> Result<(u16, Framing, bool), Failure> {
        let length = loop {
            if let Some(at) = find(&self.buf[self.start..self.end], b"\r\n\r\n") {
                break at + 4;
            }
            if self.end - self.start > MAX_HEAD {
                return Err(Failure::Http);
            }
            self.more().await?;
        };
        let text = &self.buf[self.start..self.start + length - 4];
        self.start += length;
        let mut lines = text.split(|b| *b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let status_line = lines.next().ok_or(Failure::Http)?;
        // HTTP/1.x SSS reason
        if status_line.len() < 12 || !status_line.starts_with(b"HTTP/1.") || status_line[8] != b' ' {
            return Err(Failure::Http);
        }
        let http10 = status_line[7] == b'0';
        let status = std::str::from_utf8(&status_line[9..12]).ok().and_then(|s| s.parse::<u16>().ok()).ok_or(Failure::Http)?;
        let (mut length, mut chunked, mut close, mut keep_alive) = (None, false, false, false);
        for line in lines {
            let Some(colon) = line.iter().position(|b| *b == b':') else { return Err(Failure::Http) };
            let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
            if name.eq_ignore_ascii_case(b"content-length") {
                let n = std::str::from_utf8(value).ok().and_then(|v| v.parse::<usize>().ok()).ok_or(Failure::Http)?;
                if length.is_some_and(|l| l != n) {
                    return Err(Failure::Http);
                }
                length = Some(n);
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
        let reuse = !close && (!http10 || keep_alive);
        let framing = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
            Framing::None
        } else if chunked {
            Framing::Chunked
        } else if close && length.is_none() {
            Framing::UntilClose
        } else {
            match length {
                Some(n) => Framing::Length(n),
                None => Framing::UntilClose,
            }
        };
        Ok((status, framing, reuse))
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
            if self.end - self.start > 4096 {
                return Err(Failure::Http);
            }
            self.more().await?;
        }
    }

    /// Skips a chunked body and its trailers.
    async fn chunks(&mut self) -> Result<(), Failure> {
        loop {
            let range = self.line().await?;
            let line = &self.buf[range];
            let digits = trim(line.split(|b| *b == b';').next().unwrap_or(line));
            let size = std::str::from_utf8(digits).ok().and_then(|d| usize::from_str_radix(d, 16).ok()).ok_or(Failure::Http)?;
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
