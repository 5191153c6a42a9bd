//! What a filter decides for a request: let it through, answer it, or wait.

use crate::problem::{Problem, CONTENT_TYPE};

/// A filter's decision for one request phase.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Let the request (or response) go on.
    Continue,
    /// Answer it now, instead of the upstream.
    Deny(Denial),
    /// Wait for something (a key fetch, a rate-limit service, more body); resumed by a callback.
    Pause,
}

/// A local answer: status, extra headers and a problem+json body.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// HTTP status.
    pub status: u16,
    /// Headers besides `content-type` (`www-authenticate`, `retry-after`, ...).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub problem: Problem,
}

impl Denial {
    /// A denial whose status is the problem's.
    pub fn new(problem: Problem) -> Self {
        Self {
            status: problem.status,
            headers: Vec::new(),
            problem,
        }
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// All response headers, `content-type` first.
    pub fn response_headers(&self) -> Vec<(&str, &str)> {
        std::iter::once(("content-type", CONTENT_TYPE))
            .chain(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .collect()
    }
}

impl From<Problem> for Decision {
    fn from(problem: Problem) -> Self {
        Decision::Deny(Denial::new(problem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn denial_carries_problem_status_and_content_type() {
        let d = Denial::new(Problem::new(401, "unauthorized", "Unauthorized"))
            .with_header("www-authenticate", "Bearer realm=\"api\"");
        assert_eq!(d.status, 401);
        assert_eq!(
            d.response_headers(),
            vec![
                ("content-type", "application/problem+json"),
                ("www-authenticate", "Bearer realm=\"api\"")
            ]
        );
    }
}
