//! Real HTTP servers on loopback: the echo upstream and programmable servers (JWKS, OIDC).

use base64::Engine;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A request a server received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// Body (chunked bodies decoded).
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).unwrap(),
        }
    }

    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A programmable HTTP/1.1 server on a free loopback port; stops on drop.
pub struct HttpServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    hits: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Starts a server answering every request with `handler`.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let addr = server.server_addr().to_ip().unwrap();
        let stopping = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicU64::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (server, stopping, hits) = (server.clone(), stopping.clone(), hits.clone());
            std::thread::spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(100)) else {
                        continue;
                    };
                    hits.fetch_add(1, Ordering::Relaxed);
                    let handler = handler.clone();
                    std::thread::spawn(move || serve(request, handler.as_ref()));
                }
            })
        };
        Self {
            addr,
            server,
            stopping,
            hits,
            thread: Some(thread),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests received so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut request: tiny_http::Request, handler: &Handler) {
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let req = Request {
        method: request.method().as_str().to_string(),
        path: request.url().to_string(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect(),
        body,
    };
    let reply = handler(&req);
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    for (n, v) in &reply.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    let _ = request.respond(response);
}

/// The echo upstream: answers 200 with JSON describing what it received
/// (`method`, `path`, `headers` as `[[name, value], ...]`, `body`, `body_b64`, `body_len`),
/// with `server: palisade-echo` and `x-powered-by: echo`. A request header `x-echo-respond`
/// holding `{"status":..,"headers":[[n,v],..],"body":".."}` makes it answer that instead.
pub struct Upstream {
    server: HttpServer,
}

impl Upstream {
    /// Starts the echo upstream.
    pub fn start() -> Self {
        Self {
            server: HttpServer::start(echo),
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Requests it received so far.
    pub fn hits(&self) -> u64 {
        self.server.hits()
    }
}

fn echo(req: &Request) -> Reply {
    if let Some(spec) = req
        .header("x-echo-respond")
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    {
        let mut reply = Reply {
            status: spec["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200),
            headers: Vec::new(),
            body: spec["body"].as_str().unwrap_or("").as_bytes().to_vec(),
        };
        for h in spec["headers"].as_array().into_iter().flatten() {
            if let (Some(n), Some(v)) = (h[0].as_str(), h[1].as_str()) {
                reply.headers.push((n.into(), v.into()));
            }
        }
        return reply;
    }
    let body = json!({
        "method": req.method,
        "path": req.path,
        "headers": req.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "body": String::from_utf8_lossy(&req.body),
        "body_b64": base64::engine::general_purpose::STANDARD.encode(&req.body),
        "body_len": req.body.len(),
    });
    Reply::json(200, &body)
        .with_header("server", "palisade-echo")
        .with_header("x-powered-by", "echo")
}
