//! A small HTTP/1.1 client that sends a variant's request again and again on one keep-alive
//! connection (for `--instructions`, where wrk's parallel load is not wanted: the count is per
//! request, and one connection keeps it free of connection set-up).
//!
//! The request is the bytes wrk sends for the same [`Load`]: request line, `Host`, the load's
//! headers, `Content-Length` when there is a body, then the body.

use super::wrk::Load;
use crate::util::Result;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long one answer may take (Envoy under callgrind is ~50× slower than natively).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// The request's bytes, as wrk formats them for `http://127.0.0.1:{port}{path}`.
pub fn request_bytes(load: &Load, port: u16) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\n", load.method, load.path);
    head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    for (name, value) in &load.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = &load.body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if let Some(body) = &load.body {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// What a series of requests got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Answers received.
    pub requests: u64,
    /// Answers with a status of 400 or more.
    pub status_errors: u64,
    /// Times the connection had to be opened again (Envoy closed it after an answer).
    pub reconnects: u64,
}

/// One keep-alive connection to Envoy's listener.
pub struct Client {
    port: u16,
    request: Vec<u8>,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    /// A client sending `load` to `127.0.0.1:port` (connects on the first request).
    pub fn new(load: &Load, port: u16) -> Self {
        Self {
            port,
            request: request_bytes(load, port),
            conn: None,
        }
    }

    /// Sends the request `n` times, one after the other, reading each answer whole.
    pub fn send(&mut self, n: u64) -> Result<Counts> {
        let mut counts = Counts::default();
        for _ in 0..n {
            let (status, keep) = self.once(&mut counts)?;
            counts.requests += 1;
            if status >= 400 {
                counts.status_errors += 1;
            }
            if !keep {
                self.conn = None;
            }
        }
        Ok(counts)
    }

    fn once(&mut self, counts: &mut Counts) -> Result<(u16, bool)> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => {
                if counts.requests > 0 {
                    counts.reconnects += 1;
                }
                let stream = TcpStream::connect(("127.0.0.1", self.port))
                    .map_err(|e| format!("connect to port {}: {e}", self.port))?;
                stream
                    .set_read_timeout(Some(ANSWER_TIMEOUT))
                    .map_err(|e| e.to_string())?;
                let _ = stream.set_nodelay(true);
                BufReader::new(stream)
            }
        };
        let mut conn = conn;
        conn.get_mut()
            .write_all(&self.request)
            .map_err(|e| format!("send: {e}"))?;
        let answer = read_response(&mut conn)?;
        self.conn = Some(conn);
        Ok(answer)
    }
}

/// Reads one response (`Content-Length` or chunked body); its status, and whether the connection
/// stays open.
pub fn read_response(conn: &mut impl BufRead) -> Result<(u16, bool)> {
    let mut line = String::new();
    let read_line = |conn: &mut dyn BufRead, line: &mut String| -> Result<()> {
        line.clear();
        match conn.read_line(line) {
            Ok(0) => Err("the connection closed before a whole answer".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    };
    read_line(conn, &mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep = true;
    loop {
        read_line(conn, &mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(format!("not a header line: {header:?}"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(value.parse().map_err(|_| format!("bad length {value:?}"))?);
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => keep = !value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    if chunked {
        loop {
            read_line(conn, &mut line)?;
            let size = line.trim_end().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| format!("bad chunk size {line:?}"))?;
            skip(conn, size)?;
            read_line(conn, &mut line)?; // the CRLF after the chunk (or the last, empty line)
            if size == 0 {
                break;
            }
        }
    } else {
        skip(conn, length.unwrap_or(0))?;
    }
    Ok((status, keep))
}

fn skip(conn: &mut impl BufRead, n: usize) -> Result {
    let mut body = conn.take(n as u64);
    let copied = std::io::copy(&mut body, &mut std::io::sink()).map_err(|e| e.to_string())?;
    if copied == n as u64 {
        Ok(())
    } else {
        Err(format!("the body ended after {copied} of {n} bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_one_wrk_sends() {
        let load =
            Load::post_json("/api/orders", b"{}".to_vec()).header("authorization", "Bearer t");
        let bytes = request_bytes(&load, 10000);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1:10000\r\ncontent-type: application/json\r\n\
             authorization: Bearer t\r\nContent-Length: 2\r\n\r\n{}"
        );
        let get = String::from_utf8(request_bytes(&Load::get("/x"), 1)).unwrap();
        assert_eq!(get, "GET /x HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n");
    }

    #[test]
    fn answers_are_read_whole_by_length_or_chunks() {
        let two = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\nserver: envoy\r\n\r\n{\"ok\":true}\
            HTTP/1.1 429 Too Many Requests\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
            3\r\nabc\r\n0\r\n\r\nrest";
        let mut conn = &two[..];
        assert_eq!(read_response(&mut conn).unwrap(), (200, true));
        assert_eq!(read_response(&mut conn).unwrap(), (429, false));
        assert_eq!(conn, b"rest");
        let mut short = &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab"[..];
        assert!(read_response(&mut short).is_err());
    }
}
