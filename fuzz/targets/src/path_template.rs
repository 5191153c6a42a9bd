//! OpenAPI path templates: parsing, matching, ordering. Properties: a match captures exactly the
//! template's parameters, in order; a template without parameters matches only itself; the
//! specificity order is antisymmetric.

use crate::input::{field, fields};
use palisade_schema::path_template::PathTemplate;
use std::cmp::Ordering;

/// Fields: a template, a request path, a second template.
pub fn run(data: &[u8]) {
    let f = fields(data);
    let (template, path, other) = (field(&f, 0), field(&f, 1), field(&f, 2));
    let Ok(t) = PathTemplate::parse(template) else {
        return;
    };
    assert_eq!(t.as_str(), template);
    let names = t.param_names();
    if let Some(captures) = t.matches(path) {
        let captured: Vec<&str> = captures.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(captured, names, "captures are the template's parameters");
        for (_, value) in &captures {
            assert!(!value.contains('/'), "a capture spans segments: `{value}`");
        }
        if names.is_empty() {
            assert_eq!(path, template, "a concrete template matches only itself");
        }
    } else if names.is_empty() {
        assert_ne!(path, template, "a concrete template matches itself");
    }
    // The template as a request path always matches itself when it is concrete.
    if names.is_empty() {
        assert!(t.matches(template).is_some());
    }
    assert_eq!(
        PathTemplate::specificity_order(&t, &t),
        Ordering::Equal,
        "a template is as specific as itself"
    );
    if let Ok(o) = PathTemplate::parse(other) {
        assert_eq!(
            PathTemplate::specificity_order(&t, &o),
            PathTemplate::specificity_order(&o, &t).reverse()
        );
        let _ = o.matches(path);
    }
}
