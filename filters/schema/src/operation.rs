//! Compiled operations and how a request finds its one: by method and path template (OpenAPI)
//! or by the core route matcher (plain mode).

use crate::media::{MediaRange, MediaType};
use crate::params::ParamSpec;
use crate::path_template::{Captures, PathTemplate};
use crate::validator::SchemaId;
use palisade_core::route::{first_match, path_without_query, RequestInfo, Routed};

/// What an operation checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// `operationId`, or `METHOD /template` (plain mode: `routes[i]`).
    pub id: String,
    /// Parameters to check.
    pub params: Vec<ParamSpec>,
    /// The request body it accepts (`None`: any body passes unchecked).
    pub body: Option<BodySpec>,
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// An operation's request body.
#[derive(Debug, Clone, PartialEq)]
pub struct BodySpec {
    /// Whether a body must be sent.
    pub required: bool,
    /// Accepted media ranges, each with its schema (JSON bodies are validated against it).
    pub media: Vec<(MediaRange, Option<SchemaId>)>,
}

/// What to do with a body of some media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPlan {
    /// Buffer it (up to the limit) and validate it as JSON against the schema.
    ValidateJson(SchemaId),
    /// Let it stream through, counting bytes against the limit.
    Stream,
    /// Refuse it: 415.
    Unsupported,
}

impl BodySpec {
    /// The plan for a body with this `Content-Type` (`None`: the header is absent or malformed).
    pub fn plan(&self, content_type: Option<&MediaType>) -> BodyPlan {
        let Some(media) = content_type else {
            return BodyPlan::Unsupported;
        };
        if !media.charset_is_acceptable() {
            return BodyPlan::Unsupported;
        }
        match crate::media::best_match(&self.media, media) {
            None => BodyPlan::Unsupported,
            Some(Some(schema)) if media.is_json() => BodyPlan::ValidateJson(*schema),
            Some(_) => BodyPlan::Stream,
        }
    }

    /// The accepted media ranges, for the 415 answer.
    pub fn accepted(&self) -> Vec<String> {
        self.media.iter().map(|(r, _)| r.essence()).collect()
    }
}

/// One path of an OpenAPI document and its operations.
#[derive(Debug, Clone, PartialEq)]
pub struct PathItem {
    /// The template.
    pub template: PathTemplate,
    /// Operations by upper-case method.
    pub operations: Vec<(String, Operation)>,
}

/// The operations of an OpenAPI document, most concrete path first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiRoutes {
    /// Prefix of every path (from `servers` or config), without trailing `/`.
    pub base_path: String,
    /// Path items in matching order.
    pub paths: Vec<PathItem>,
}

/// How a request found (or did not find) its operation.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    /// The operation and the path parameters' raw values.
    Found(&'a Operation, Captures),
    /// No path matches.
    UnknownPath,
    /// The path matches but has no operation for the method; the methods it has.
    UnknownMethod(Vec<String>),
}

impl ApiRoutes {
    /// Finds the operation of `method` on `path` (query ignored). `HEAD` falls back to `GET`.
    pub fn lookup(&self, method: &str, path: &str) -> Lookup<'_> {
        let path = path_without_query(path);
        let Some(path) = strip_base(path, &self.base_path) else {
            return Lookup::UnknownPath;
        };
        for item in &self.paths {
            let Some(captures) = item.template.matches(path) else {
                continue;
            };
            let find = |m: &str| {
                item.operations
                    .iter()
                    .find(|(om, _)| om == m)
                    .map(|(_, op)| op)
            };
            let found = find(method).or_else(|| if method == "HEAD" { find("GET") } else { None });
            return match found {
                Some(op) => Lookup::Found(op, captures),
                None => {
                    Lookup::UnknownMethod(item.operations.iter().map(|(m, _)| m.clone()).collect())
                }
            };
        }
        Lookup::UnknownPath
    }
}

fn strip_base<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    if base.is_empty() {
        return Some(path);
    }
    match path.strip_prefix(base)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// Where operations come from.
#[derive(Debug, Clone)]
pub enum Routes {
    /// An OpenAPI document.
    Api(ApiRoutes),
    /// Plain per-route rules; a request no rule matches passes unchecked.
    Plain(Vec<Routed<Operation>>),
}

impl Routes {
    /// Finds the operation of a request.
    pub fn lookup<'a>(&'a self, req: &RequestInfo<'_>) -> Lookup<'a> {
        match self {
            Routes::Api(api) => api.lookup(req.method, req.path_only()),
            Routes::Plain(rules) => match first_match(rules, req) {
                Some(rule) => Lookup::Found(&rule.value, Vec::new()),
                None => Lookup::UnknownPath,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str) -> Operation {
        Operation {
            id: id.into(),
            params: Vec::new(),
            body: None,
            max_body_bytes: 10,
        }
    }

    fn api() -> ApiRoutes {
        let mut paths: Vec<PathItem> = [
            ("/users/{id}", vec!["GET", "DELETE"]),
            ("/users/me", vec!["GET"]),
            ("/", vec!["GET"]),
        ]
        .into_iter()
        .map(|(t, methods)| PathItem {
            template: PathTemplate::parse(t).unwrap(),
            operations: methods
                .into_iter()
                .map(|m| (m.to_string(), op(&format!("{m} {t}"))))
                .collect(),
        })
        .collect();
        paths.sort_by(|a, b| PathTemplate::specificity_order(&a.template, &b.template));
        ApiRoutes {
            base_path: "/v1".into(),
            paths,
        }
    }

    fn id(l: Lookup<'_>) -> String {
        match l {
            Lookup::Found(op, _) => op.id.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn operations_are_found_by_method_and_most_concrete_path() {
        let api = api();
        assert_eq!(id(api.lookup("GET", "/v1/users/me?x=1")), "GET /users/me");
        assert_eq!(id(api.lookup("GET", "/v1/users/42")), "GET /users/{id}");
        assert_eq!(id(api.lookup("HEAD", "/v1/users/42")), "GET /users/{id}");
        assert_eq!(id(api.lookup("GET", "/v1")), "GET /");
        match api.lookup("DELETE", "/v1/users/42") {
            Lookup::Found(_, caps) => assert_eq!(caps, vec![("id".to_string(), "42".to_string())]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        let api = api();
        assert_eq!(api.lookup("GET", "/v1/orders"), Lookup::UnknownPath);
        assert_eq!(
            api.lookup("GET", "/users/42"),
            Lookup::UnknownPath,
            "outside the base path"
        );
        assert_eq!(api.lookup("GET", "/v1x/users/42"), Lookup::UnknownPath);
        assert_eq!(
            api.lookup("POST", "/v1/users/42"),
            Lookup::UnknownMethod(vec!["GET".into(), "DELETE".into()])
        );
    }

    fn some_schema() -> SchemaId {
        let mut b =
            crate::validator::SchemaSetBuilder::new(crate::validator::Dialect::Draft2020, false);
        b.add_resource("urn:test:any", serde_json::json!({}))
            .unwrap();
        b.compile("urn:test:any").unwrap()
    }

    #[test]
    fn body_plans_follow_media_type_and_schema() {
        let id = some_schema();
        let spec = BodySpec {
            required: true,
            media: vec![
                (MediaRange::parse("application/json").unwrap(), Some(id)),
                (MediaRange::parse("application/octet-stream").unwrap(), None),
            ],
        };
        let plan = |ct: &str| spec.plan(MediaType::parse(ct).as_ref());
        assert_eq!(
            plan("application/json; charset=utf-8"),
            BodyPlan::ValidateJson(id)
        );
        assert_eq!(plan("application/octet-stream"), BodyPlan::Stream);
        assert_eq!(plan("text/plain"), BodyPlan::Unsupported);
        assert_eq!(
            plan("application/json; charset=latin1"),
            BodyPlan::Unsupported
        );
        assert_eq!(spec.plan(None), BodyPlan::Unsupported);
        assert_eq!(
            spec.accepted(),
            vec!["application/json", "application/octet-stream"]
        );
    }
}
