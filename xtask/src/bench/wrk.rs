//! Driving Envoy with `wrk` from a second process: one Lua script per request shape, which sets the
//! request once (wrk then sends the same bytes every time) and reports the run as one JSON line.

use crate::util::Result;
use serde::Deserialize;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Keep-alive connections wrk holds open: enough to keep one Envoy worker saturated.
pub const CONNECTIONS: u32 = 16;

/// The request every connection sends, again and again.
#[derive(Debug, Clone)]
pub struct Load {
    /// HTTP method.
    pub method: &'static str,
    /// Path with query.
    pub path: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Request body (sent with `content-length`).
    pub body: Option<Vec<u8>>,
}

impl Load {
    /// A `GET` of `path` with no headers.
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET",
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A `POST` of a JSON body.
    pub fn post_json(path: &str, body: Vec<u8>) -> Self {
        Self {
            method: "POST",
            path: path.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The wrk script that sends this request and prints the summary as JSON.
    pub fn script(&self) -> String {
        let mut lua = format!("wrk.method = {}\n", lua_string(self.method.as_bytes()));
        for (name, value) in &self.headers {
            lua.push_str(&format!(
                "wrk.headers[{}] = {}\n",
                lua_string(name.as_bytes()),
                lua_string(value.as_bytes())
            ));
        }
        if let Some(body) = &self.body {
            lua.push_str(&format!("wrk.body = {}\n", lua_string(body)));
        }
        lua.push_str(DONE);
        lua
    }
}

/// Prints the run as one JSON line; `done` runs once at the end, so it costs nothing per request.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "PALISADE_WRK {\"requests\":%d,\"duration_us\":%d,\"status_errors\":%d,\"socket_errors\":%d,\"p50_us\":%d,\"p99_us\":%d}\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99))))
end
"#;

/// A Lua string literal with every byte outside printable ASCII (and `"`, `\`) escaped.
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out.push('"');
    out
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Run {
    /// Requests completed.
    pub requests: u64,
    /// Length of the run in microseconds.
    pub duration_us: u64,
    /// Responses with a status of 400 or more.
    pub status_errors: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
    /// Median latency in microseconds.
    pub p50_us: u64,
    /// 99th percentile latency in microseconds.
    pub p99_us: u64,
}

impl Run {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }
}

/// Runs wrk (one thread, [`CONNECTIONS`] connections) against `port` with `script` for `duration`,
/// on `cpu` when given.
pub fn run(
    script: &Path,
    port: u16,
    path: &str,
    duration: Duration,
    cpu: Option<usize>,
) -> Result<Run> {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string(), "wrk"]);
            c
        }
        None => Command::new("wrk"),
    };
    // wrk reads durations as whole seconds, minutes or hours.
    let seconds = duration.as_secs().max(1);
    cmd.args([
        "-t1",
        "-c",
        &CONNECTIONS.to_string(),
        "-d",
        &format!("{seconds}s"),
        "-s",
    ])
    .arg(script)
    .arg(format!("http://127.0.0.1:{port}{path}"));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start wrk (run `cargo xtask setup`): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PALISADE_WRK "))
        .ok_or_else(|| {
            format!(
                "wrk printed no summary ({}):\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    serde_json::from_str(line).map_err(|e| format!("wrk summary `{line}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_escape_quotes_backslashes_and_control_bytes() {
        assert_eq!(lua_string(b"a \"b\"\\\n"), r#""a \034b\034\092\010""#);
    }

    #[test]
    fn scripts_set_method_headers_and_body() {
        let script = Load::post_json("/x", b"{}".to_vec())
            .header("authorization", "Bearer t")
            .script();
        assert!(script.contains("wrk.method = \"POST\""));
        assert!(script.contains("wrk.headers[\"authorization\"] = \"Bearer t\""));
        assert!(script.contains("wrk.body = \"{}\""));
    }
}
