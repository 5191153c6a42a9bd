//! The code blocks of the Markdown docs a user may copy, with the class their info string gives
//! (```` ```json palisade:headers ````), so tests can check each one the way it is used.
//!
//! Classes: `palisade:<filter>` (a filter configuration, JSON or YAML), `palisade:<filter>-refused`
//! (a configuration the filter refuses; the next block, `palisade:log`, is the exact log line),
//! `palisade:envoy-fragment:<example>` (YAML that replaces the same key in `envoy/<example>`),
//! `palisade:istio` and `palisade:envoy-gateway` (Kubernetes manifests), `palisade:log`.

use std::path::{Path, PathBuf};

/// What a snippet is, from its info string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A configuration of this filter that it accepts.
    Config(String),
    /// A configuration of this filter that it refuses.
    Refused(String),
    /// The log line the filter prints for the refused configuration just before.
    Log,
    /// A fragment of `envoy/<example>`: its top-level key replaces the same key there.
    EnvoyFragment(String),
    /// An Istio manifest.
    Istio,
    /// An Envoy Gateway manifest.
    EnvoyGateway,
}

impl Class {
    /// The class's name in test output (`config`, `envoy-fragment`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Class::Config(_) => "filter config",
            Class::Refused(_) => "refused filter config",
            Class::Log => "log line",
            Class::EnvoyFragment(_) => "Envoy YAML",
            Class::Istio => "Istio manifest",
            Class::EnvoyGateway => "Envoy Gateway manifest",
        }
    }

    fn parse(tag: &str) -> Result<Self, String> {
        let filters = ["headers", "jwt", "ratelimit", "schema", "palisade"];
        if let Some(example) = tag.strip_prefix("envoy-fragment:") {
            return Ok(Class::EnvoyFragment(example.to_string()));
        }
        match tag {
            "log" => return Ok(Class::Log),
            "istio" => return Ok(Class::Istio),
            "envoy-gateway" => return Ok(Class::EnvoyGateway),
            _ => {}
        }
        if let Some(filter) = tag.strip_suffix("-refused") {
            if filters.contains(&filter) {
                return Ok(Class::Refused(filter.to_string()));
            }
        }
        if filters.contains(&tag) {
            return Ok(Class::Config(tag.to_string()));
        }
        Err(format!("unknown snippet class `palisade:{tag}`"))
    }
}

/// One fenced code block.
#[derive(Debug, Clone)]
pub struct Snippet {
    /// The Markdown file, relative to the repository root.
    pub file: PathBuf,
    /// Line of the opening fence (1-based).
    pub line: usize,
    /// The info string's first word (`json`, `yaml`, `sh`, or empty).
    pub lang: String,
    /// The class, `Ok(None)` without a `palisade:` word, `Err` for an unknown one.
    pub class: Result<Option<Class>, String>,
    /// The block's text.
    pub text: String,
}

impl Snippet {
    /// `README.md:42` for messages.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// Whether a user would take it for JSON or YAML (by its language, or by its content when
    /// it has none), so it must be classified.
    pub fn is_data(&self) -> bool {
        match self.lang.as_str() {
            "json" | "jsonc" | "yaml" | "yml" => true,
            "" => {
                let t = self.text.trim_start();
                t.starts_with('{') || t.starts_with("apiVersion:")
            }
            _ => false,
        }
    }
}

/// The Markdown files whose snippets users copy: `README.md`, `filters/*/README.md`,
/// `envoy/**/README.md`.
pub fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("README.md")];
    for dir in ["filters", "envoy"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("README.md"))
            .filter(|p| p.exists())
            .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// Every fenced code block of one Markdown text.
pub fn parse(file: &Path, markdown: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String, Vec<&str>)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let fence = line.len() - trimmed.len();
                    open = Some((
                        i + 1,
                        info.trim().to_string(),
                        " ".repeat(fence),
                        Vec::new(),
                    ));
                }
            }
            Some((start, info, indent, mut body)) => {
                if trimmed.starts_with("```") {
                    out.push(snippet(file, start, &info, &body.join("\n")));
                } else {
                    body.push(line.strip_prefix(indent.as_str()).unwrap_or(line));
                    open = Some((start, info, indent, body));
                }
            }
        }
    }
    out
}

fn snippet(file: &Path, line: usize, info: &str, text: &str) -> Snippet {
    let mut words = info.split_whitespace();
    let lang = words.next().unwrap_or("").to_string();
    let tags: Vec<&str> = words.filter_map(|w| w.strip_prefix("palisade:")).collect();
    let class = match tags.as_slice() {
        [] => Ok(None),
        [tag] => Class::parse(tag).map(Some),
        _ => Err("more than one palisade: class".to_string()),
    };
    Snippet {
        file: file.to_path_buf(),
        line,
        lang,
        class,
        text: format!("{text}\n"),
    }
}

/// Every snippet of every doc file under `root`.
pub fn all(root: &Path) -> Vec<Snippet> {
    doc_files(root)
        .into_iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
            parse(&file, &text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_with_their_language_and_class() {
        let md = "text\n```json palisade:headers\n{\"preset\": \"owasp\"}\n```\n\n  ```yaml palisade:envoy-fragment:headers.yaml\n  a: 1\n  ```\n```\nplain\n```\n```yaml palisade:nonsense\nx: 1\n```\n";
        let s = parse(Path::new("R.md"), md);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].line, 2);
        assert_eq!(s[0].lang, "json");
        assert_eq!(s[0].class, Ok(Some(Class::Config("headers".into()))));
        assert_eq!(s[0].text, "{\"preset\": \"owasp\"}\n");
        assert_eq!(
            s[1].class,
            Ok(Some(Class::EnvoyFragment("headers.yaml".into())))
        );
        assert_eq!(s[1].text, "a: 1\n");
        assert!(s[1].is_data() && s[0].is_data() && !s[2].is_data());
        assert_eq!(s[2].class, Ok(None));
        assert!(s[3].class.is_err());
        assert_eq!(
            Class::parse("jwt-refused"),
            Ok(Class::Refused("jwt".into()))
        );
        assert!(Class::parse("cors").is_err());
    }
}
