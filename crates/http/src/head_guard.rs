//! A guard in front of actix's HTTP/1 parser, so that every answer is problem+json.
//!
//! actix-http answers a request head that is too slow (408), too large (431) or malformed (400)
//! itself, below every handler and middleware, with an empty body. This wrapper of the TCP
//! stream reads each request head before actix sees it, with limits tighter than actix's: a head
//! that breaks one is never handed over. Instead actix sees the end of the stream, finishes the
//! requests it has, and shuts the connection down, and on that shutdown the guard writes its
//! problem+json answer. Bodies pass through untouched (`Content-Length` framing is followed so
//! the next head is found); a chunked body or a protocol upgrade (WebSocket) turns the guard
//! into a plain pass-through for the rest of the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_web::http::{Method, StatusCode, Uri};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::problem::{ApiError, PROBLEM_JSON};

/// Limits on one request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request line (method, target, version): a longer one is 414.
    pub max_request_line: usize,
    /// Largest head (request line and headers): larger is 431.
    pub max_head: usize,
    /// Most header fields: more is 431.
    pub max_headers: usize,
    /// How long a head may take to arrive, from the connection's start for the first request
    /// and from its first byte for later ones: slower is 408.
    pub timeout: Duration,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_request_line: 16 * 1024,
            max_head: 64 * 1024,
            max_headers: 64,
            timeout: Duration::from_secs(5),
        }
    }
}

/// What the reading side is doing.
#[derive(Debug)]
enum Mode {
    /// Collecting the next head.
    Head,
    /// Handing this many bytes (a head and its body) to actix as they come.
    Pass(u64),
    /// Everything passes from now on (chunked body, upgrade).
    Through,
    /// The stream is over for actix (a refused head, or the client's end).
    Ended,
}

/// A TCP stream with its request heads checked before actix parses them.
pub struct GuardedStream<S> {
    io: S,
    limits: HeadLimits,
    mode: Mode,
    buf: BytesMut,
    /// Bytes of `buf` already searched for the end of the head.
    scanned: usize,
    timer: Option<Pin<Box<Sleep>>>,
    /// The answer to write when actix shuts the connection down, and how much of it is out.
    answer: Option<(Vec<u8>, usize)>,
}

impl<S> GuardedStream<S> {
    /// Wraps a freshly accepted stream; the head timer of the first request starts now.
    pub fn new(io: S, limits: HeadLimits) -> Self {
        Self {
            io,
            limits,
            mode: Mode::Head,
            buf: BytesMut::with_capacity(8 * 1024),
            scanned: 0,
            timer: Some(Box::pin(tokio::time::sleep(limits.timeout))),
            answer: None,
        }
    }

    fn refuse(&mut self, status: StatusCode, code: &'static str, detail: String) {
        let problem = ApiError::new(status, code, detail).problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\ncache-control: no-store\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        self.answer = Some((out, 0));
        self.mode = Mode::Ended;
        self.timer = None;
        self.buf.clear();
    }

    /// Looks at the collected bytes: hands a complete head over (switching to `Pass`), refuses
    /// a bad one, or leaves `Head` waiting for more.
    fn examine(&mut self) {
        // Empty lines before a request line are allowed (RFC 9112 §2.2); actix skips them.
        let blank = self
            .buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            self.mode = Mode::Pass(blank as u64);
            self.scanned = 0;
            return;
        }
        let Some(end) = self.head_end() else {
            let line_done = self.buf.contains(&b'\n');
            if !line_done && self.buf.len() > self.limits.max_request_line {
                self.refuse_long_line();
            } else if self.buf.len() > self.limits.max_head {
                self.refuse_large_head();
            }
            return;
        };
        let line = self.buf.iter().position(|b| *b == b'\n').unwrap_or(end);
        if line > self.limits.max_request_line {
            return self.refuse_long_line();
        }
        if end > self.limits.max_head {
            return self.refuse_large_head();
        }
        match frame(&self.buf[..end], self.limits.max_headers) {
            Ok(Framing::Length(body)) => {
                self.mode = Mode::Pass(end as u64 + body);
                self.timer = None;
            }
            Ok(Framing::Open) => {
                self.mode = Mode::Through;
                self.timer = None;
            }
            Err(Refusal::TooManyHeaders) => self.refuse(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!("at most {} header fields", self.limits.max_headers),
            ),
            Err(Refusal::Malformed(why)) => {
                self.refuse(StatusCode::BAD_REQUEST, "malformed_request", why)
            }
        }
    }

    fn refuse_long_line(&mut self) {
        self.refuse(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the request line is longer than {} bytes",
                self.limits.max_request_line
            ),
        );
    }

    fn refuse_large_head(&mut self) {
        self.refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request head is larger than {} bytes",
                self.limits.max_head
            ),
        );
    }

    /// The length of the head (through its empty line) if it is complete. Searches only what
    /// arrived since the last look, so a head sent a byte at a time costs linear time.
    fn head_end(&mut self) -> Option<usize> {
        let from = self.scanned.saturating_sub(3);
        let found = self.buf[from..]
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| from + i)
            .find(|&i| {
                (i >= 1 && self.buf[i - 1] == b'\n')
                    || (i >= 2 && self.buf[i - 1] == b'\r' && self.buf[i - 2] == b'\n')
            });
        self.scanned = self.buf.len();
        found.map(|i| i + 1)
    }
}

/// Most header fields the guard can allow (actix itself takes 96).
const MAX_HEADER_SLOTS: usize = 90;

enum Framing {
    /// A body of this many bytes follows (0: none).
    Length(u64),
    /// The rest of the connection cannot be framed here (chunked body, upgrade).
    Open,
}

enum Refusal {
    TooManyHeaders,
    Malformed(String),
}

/// Parses a complete head as actix will, refusing what actix would refuse with an empty 400,
/// and tells how its body is framed.
fn frame(head: &[u8], max_headers: usize) -> Result<Framing, Refusal> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
    let mut req = httparse::Request::new(&mut storage[..max_headers.min(MAX_HEADER_SLOTS)]);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Refusal::Malformed("incomplete request head".into()));
        }
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooManyHeaders),
        Err(e) => return Err(Refusal::Malformed(format!("malformed request head: {e}"))),
    }
    let malformed = |why: &str| Refusal::Malformed(why.to_owned());
    let method = req
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or_else(|| malformed("invalid method"))?;
    req.path
        .and_then(|p| Uri::try_from(p).ok())
        .ok_or_else(|| malformed("invalid request target"))?;
    let mut length: Option<u64> = None;
    let mut open = method == Method::CONNECT;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(h.value)
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| malformed("invalid Content-Length"))?;
            if length.replace(value).is_some() {
                return Err(malformed("more than one Content-Length"));
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
            || h.name.eq_ignore_ascii_case("upgrade")
        {
            open = true;
        }
    }
    if open {
        return Ok(Framing::Open);
    }
    if req.version == Some(0) && method == Method::POST && length.is_none() {
        return Err(malformed("an HTTP/1.0 POST needs a Content-Length"));
    }
    Ok(Framing::Length(length.unwrap_or(0)))
}

impl<S: AsyncRead + Unpin> GuardedStream<S> {
    /// Reads more from the socket into `buf`; `Ok(false)` at the client's end of stream.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(8 * 1024);
        }
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.io),
            cx,
            &mut self.buf
        ))?;
        Poll::Ready(Ok(n > 0))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            // Nothing fits: reading now could not tell the end of the stream from no room.
            return Poll::Ready(Ok(()));
        }
        loop {
            match this.mode {
                Mode::Ended => return Poll::Ready(Ok(())),
                Mode::Through if this.buf.is_empty() => {
                    return Pin::new(&mut this.io).poll_read(cx, out);
                }
                Mode::Through => {
                    let n = this.buf.len().min(out.remaining());
                    out.put_slice(&this.buf[..n]);
                    this.buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Mode::Pass(0) => this.mode = Mode::Head,
                Mode::Pass(left) if !this.buf.is_empty() => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(this.buf.len())
                        .min(out.remaining());
                    out.put_slice(&this.buf[..n]);
                    this.buf.advance(n);
                    this.mode = Mode::Pass(left - n as u64);
                    return Poll::Ready(Ok(()));
                }
                Mode::Pass(left) if left >= out.remaining() as u64 => {
                    // All the caller can take is this request's: read it straight in.
                    let before = out.filled().len();
                    ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
                    let n = out.filled().len() - before;
                    if n == 0 {
                        this.mode = Mode::Ended;
                    } else {
                        this.mode = Mode::Pass(left - n as u64);
                    }
                    return Poll::Ready(Ok(()));
                }
                Mode::Pass(_) => {
                    if !ready!(this.fill(cx))? {
                        this.mode = Mode::Ended;
                    }
                }
                Mode::Head => {
                    if !this.buf.is_empty() {
                        if this.timer.is_none() {
                            let deadline = Instant::now() + this.limits.timeout;
                            this.timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
                        }
                        this.examine();
                        if !matches!(this.mode, Mode::Head) {
                            this.scanned = 0;
                            continue;
                        }
                    }
                    match this.fill(cx) {
                        Poll::Ready(Ok(true)) => continue,
                        Poll::Ready(Ok(false)) => this.mode = Mode::Ended,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {
                            if let Some(timer) = this.timer.as_mut()
                                && timer.as_mut().poll(cx).is_ready()
                            {
                                this.refuse(
                                    StatusCode::REQUEST_TIMEOUT,
                                    "request_timeout",
                                    format!(
                                        "the request head did not arrive within {} s",
                                        this.limits.timeout.as_secs_f64()
                                    ),
                                );
                                continue;
                            }
                            return Poll::Pending;
                        }
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    /// Writes the guard's answer (if a head was refused) after everything actix wrote, then
    /// shuts the socket down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(this.mode, Mode::Head) && !this.buf.is_empty() && this.answer.is_none() {
            // actix closed an idle keep-alive connection while a head was still arriving.
            this.refuse(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request head did not arrive in time".into(),
            );
        }
        while let Some((answer, written)) = this.answer.as_mut() {
            if *written == answer.len() {
                ready!(Pin::new(&mut this.io).poll_flush(cx))?;
                this.answer = None;
                break;
            }
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                this.answer = None;
                break;
            }
            *written += n;
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing(head: &str) -> Result<Framing, Refusal> {
        frame(head.as_bytes(), 64)
    }

    #[test]
    fn bodies_are_framed_by_content_length_and_chunked_or_upgrades_pass_through() {
        assert!(matches!(
            framing("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok(Framing::Length(0))
        ));
        assert!(matches!(
            framing("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"),
            Ok(Framing::Length(12))
        ));
        assert!(matches!(
            framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(Framing::Open)
        ));
        assert!(matches!(
            framing("GET /websocket HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
            Ok(Framing::Open)
        ));
    }

    #[test]
    fn what_actix_would_refuse_is_refused_here() {
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.0\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(framing(bad), Err(Refusal::Malformed(_))),
                "{bad:?}"
            );
        }
        let many: String = (0..65).map(|i| format!("X-{i}: y\r\n")).collect();
        assert!(matches!(
            framing(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
            Err(Refusal::TooManyHeaders)
        ));
    }

    #[tokio::test]
    async fn heads_pass_unchanged_and_a_bad_one_ends_the_stream_with_a_problem_answer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(1 << 20);
        let mut guarded = GuardedStream::new(server, HeadLimits::default());
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let ok = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        let bad = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(20_000));
        client_write
            .write_all(format!("{ok}{ok}{bad}").as_bytes())
            .await
            .unwrap();
        let mut seen = Vec::new();
        guarded.read_to_end(&mut seen).await.unwrap();
        assert_eq!(String::from_utf8(seen).unwrap(), format!("{ok}{ok}"));
        guarded.shutdown().await.unwrap();
        drop(guarded);
        let mut answer = String::new();
        client_read.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
            "{answer}"
        );
        assert!(answer.contains("content-type: application/problem+json"));
        assert!(answer.ends_with('}'));
        assert!(answer.contains(r#""code":"uri_too_long""#));
    }
}
