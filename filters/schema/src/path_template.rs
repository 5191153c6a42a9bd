//! OpenAPI path templates (`/users/{id}`, `/files/{name}.{ext}`): parsing, matching a request
//! path, and the order in which to try them (concrete paths before templated ones).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// Literals and parameters; never two parameters side by side.
    Pattern(Vec<Part>),
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    raw: String,
    segments: Vec<Segment>,
}

/// A matched parameter: name and raw (still percent-encoded) value.
pub type Captures = Vec<(String, String)>;

impl PathTemplate {
    /// Parses a template; it must start with `/`.
    pub fn parse(template: &str) -> Result<Self, String> {
        let rest = template
            .strip_prefix('/')
            .ok_or_else(|| format!("path `{template}` must start with `/`"))?;
        let segments = rest
            .split('/')
            .map(|s| parse_segment(s).map_err(|e| format!("path `{template}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            raw: template.to_string(),
            segments,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parameters the template names, in order.
    pub fn param_names(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Pattern(parts) => Some(parts),
                Segment::Literal(_) => None,
            })
            .flatten()
            .filter_map(|p| match p {
                Part::Param(n) => Some(n.as_str()),
                Part::Literal(_) => None,
            })
            .collect()
    }

    /// How many segments a path it matches has.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The first segment, when it is a literal.
    pub fn first_literal(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Literal(l)) => Some(l),
            _ => None,
        }
    }

    /// Matches a request path (without query); gives the parameters' raw values.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let rest = path.strip_prefix('/')?;
        let mut captures = Vec::new();
        let mut segments = rest.split('/');
        for segment in &self.segments {
            let actual = segments.next()?;
            match segment {
                Segment::Literal(l) => {
                    if l != actual {
                        return None;
                    }
                }
                Segment::Pattern(parts) => {
                    if !match_parts(parts, actual, &mut captures) {
                        return None;
                    }
                }
            }
        }
        segments.next().is_none().then_some(captures)
    }

    /// Orders templates so the most concrete is tried first: segment by segment, a literal beats
    /// a partly templated segment, which beats a bare parameter.
    pub fn specificity_order(a: &Self, b: &Self) -> Ordering {
        let rank = |s: &Segment| match s {
            Segment::Literal(_) => 2u8,
            Segment::Pattern(parts) if parts.len() > 1 => 1,
            Segment::Pattern(_) => 0,
        };
        let ra = a.segments.iter().map(rank);
        let rb = b.segments.iter().map(rank);
        rb.cmp(ra).then_with(|| a.raw.cmp(&b.raw))
    }
}

fn parse_segment(segment: &str) -> Result<Segment, String> {
    if !segment.contains(['{', '}']) {
        return Ok(Segment::Literal(segment.to_string()));
    }
    let mut parts = Vec::new();
    let mut rest = segment;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let close = rest.find('}').ok_or("unclosed `{`")?;
                let name = rest.get(1..close).unwrap_or("");
                if name.is_empty() || name.contains('{') {
                    return Err("empty or nested parameter name".into());
                }
                if matches!(parts.last(), Some(Part::Param(_))) {
                    return Err("two parameters need a literal between them".into());
                }
                parts.push(Part::Param(name.to_string()));
                rest = rest.get(close + 1..).unwrap_or("");
            }
            found => {
                let end = found.unwrap_or(rest.len());
                let literal = rest.get(..end).unwrap_or("");
                if literal.contains('}') {
                    return Err("`}` without `{`".into());
                }
                parts.push(Part::Literal(literal.to_string()));
                rest = rest.get(end..).unwrap_or("");
            }
        }
    }
    Ok(Segment::Pattern(parts))
}

/// Matches one segment against literals and parameters; a parameter takes at least one character
/// and as few as let the rest match. Linear in the segment's length: parameters and literals
/// alternate, so a parameter followed by a literal ends where that literal first occurs (a later
/// occurrence never lets more of the rest match, since the rest starts with a parameter again),
/// and the last literal must end the segment.
fn match_parts(parts: &[Part], text: &str, captures: &mut Captures) -> bool {
    let mark = captures.len();
    let mut rest = text;
    let mut parts = parts.iter().peekable();
    while let Some(part) = parts.next() {
        let taken = match (part, parts.peek()) {
            (Part::Literal(l), _) => match rest.strip_prefix(l.as_str()) {
                Some(after) => {
                    rest = after;
                    continue;
                }
                None => None,
            },
            (Part::Param(name), None) => (!rest.is_empty()).then_some((name, rest.len())),
            (Part::Param(name), Some(Part::Literal(next))) => {
                let first = rest.chars().next().map_or(0, char::len_utf8);
                let after_first = rest.get(first..).unwrap_or("");
                let end = if parts.len() == 1 {
                    // The last literal ends the segment.
                    after_first
                        .len()
                        .checked_sub(next.len())
                        .filter(|&at| first > 0 && after_first.get(at..) == Some(next.as_str()))
                } else {
                    after_first.find(next.as_str())
                };
                end.map(|at| (name, first + at))
            }
            // Never two parameters side by side (refused when parsed).
            (Part::Param(_), Some(Part::Param(_))) => None,
        };
        let Some((name, end)) = taken else {
            captures.truncate(mark);
            return false;
        };
        let (value, after) = rest.split_at_checked(end).unwrap_or((rest, ""));
        captures.push((name.clone(), value.to_string()));
        rest = after;
    }
    if rest.is_empty() {
        true
    } else {
        captures.truncate(mark);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> PathTemplate {
        PathTemplate::parse(s).unwrap()
    }

    fn caps(pairs: &[(&str, &str)]) -> Option<Captures> {
        Some(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn whole_segment_parameters_capture_raw_values() {
        let users = t("/users/{id}/orders/{orderId}");
        assert_eq!(
            users.matches("/users/42/orders/a%2Fb"),
            caps(&[("id", "42"), ("orderId", "a%2Fb")])
        );
        assert_eq!(users.matches("/users/42/orders"), None);
        assert_eq!(users.matches("/users/42/orders/7/x"), None);
        assert_eq!(
            users.matches("/users//orders/7"),
            None,
            "parameters are never empty"
        );
        assert_eq!(users.param_names(), vec!["id", "orderId"]);
    }

    #[test]
    fn parameters_inside_segments_match_around_literals() {
        let file = t("/files/{name}.{ext}");
        assert_eq!(
            file.matches("/files/report.final.pdf"),
            caps(&[("name", "report"), ("ext", "final.pdf")])
        );
        assert_eq!(file.matches("/files/report"), None);
        let v = t("/api/v{version}/items");
        assert_eq!(v.matches("/api/v2/items"), caps(&[("version", "2")]));
        assert_eq!(v.matches("/api/x2/items"), None);
    }

    #[test]
    fn parameters_take_the_shortest_value_the_rest_allows() {
        let file = t("/files/{name}.json");
        assert_eq!(
            file.matches("/files/a.json.json"),
            caps(&[("name", "a.json")])
        );
        assert_eq!(file.matches("/files/.json"), None, "never empty");
        assert_eq!(file.matches("/files/..json"), caps(&[("name", ".")]));
        assert_eq!(file.matches("/files/a.jsonx"), None);
        let three = t("/x/{a}-{b}-{c}.txt");
        assert_eq!(
            three.matches("/x/1-2-3-4.txt"),
            caps(&[("a", "1"), ("b", "2"), ("c", "3-4")])
        );
        assert_eq!(three.matches("/x/1-2.txt"), None);
        assert_eq!(three.matches("/x/1--2.txt"), None);
        assert_eq!(
            t("/u/{id}é").matches("/u/ééé"),
            caps(&[("id", "éé")]),
            "values end on character boundaries"
        );
        assert_eq!(t("/p{a}").matches("/p"), None);
        assert_eq!(
            t("/{a}.{b}.json").matches("/x.json"),
            None,
            "the last literal does not overlap the middle one"
        );
    }

    #[test]
    fn literal_paths_match_exactly() {
        let root = t("/");
        assert_eq!(root.matches("/"), caps(&[]));
        assert_eq!(root.matches("/x"), None);
        assert_eq!(
            t("/users").matches("/users/"),
            None,
            "trailing slash is another path"
        );
    }

    #[test]
    fn concrete_paths_sort_before_templated_ones() {
        let mut list = [
            t("/users/{id}"),
            t("/users/{id}.json"),
            t("/users/me"),
            t("/{any}/me"),
        ];
        list.sort_by(PathTemplate::specificity_order);
        let order: Vec<&str> = list.iter().map(PathTemplate::as_str).collect();
        assert_eq!(
            order,
            vec!["/users/me", "/users/{id}.json", "/users/{id}", "/{any}/me"]
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["users", "/users/{id", "/users/{}", "/a/{x}{y}", "/a/b}"] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
