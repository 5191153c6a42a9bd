use super::*;
use wasm_bindgen_test::wasm_bindgen_test;

const STRICT: PathOptions = PathOptions {
    path_parameters: PathParameters::Strip,
    encoded_slashes: EncodedSlashes::Reject,
};
const LENIENT: PathOptions = PathOptions {
    path_parameters: PathParameters::Keep,
    encoded_slashes: EncodedSlashes::Keep,
};

fn canon(path: &str) -> Result<String, PathFault> {
    canonicalize(path, STRICT).map(Cow::into_owned)
}

#[test]
#[wasm_bindgen_test]
fn canonical_paths_are_borrowed_unchanged() {
    for p in [
        "/",
        "/api/admin",
        "/api/admin/",
        "/a-b_c~d.e/f",
        "/files/caf%C3%A9",
        "/q%3Fx",
        "/x/..a/a..",
        "/x/.../y",
        "/x:y@z!$&'()*+,=",
        "*",
    ] {
        assert!(
            matches!(canonicalize(p, STRICT), Ok(Cow::Borrowed(b)) if b == p),
            "{p}"
        );
    }
}

#[test]
#[wasm_bindgen_test]
fn unreserved_escapes_are_decoded_and_others_upper_cased() {
    assert_eq!(canon("/api/%61dmin").unwrap(), "/api/admin");
    assert_eq!(canon("/%41%5a%30%2D%5F%7e").unwrap(), "/AZ0-_~");
    assert_eq!(canon("/caf%c3%a9").unwrap(), "/caf%C3%A9");
    assert_eq!(canon("/a%3fb%23c").unwrap(), "/a%3Fb%23c");
    assert_eq!(canon("/50%25off").unwrap(), "/50%25off");
    assert_eq!(canon("/a%3bb").unwrap(), "/a%3Bb", "an encoded `;` is data");
}

#[test]
#[wasm_bindgen_test]
fn dot_segments_are_removed_per_rfc_3986() {
    assert_eq!(canon("/a/b/c/./../../g").unwrap(), "/a/g");
    assert_eq!(canon("/api/./admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/x/../admin").unwrap(), "/api/admin");
    assert_eq!(canon("/../../api/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/admin/.").unwrap(), "/api/admin/");
    assert_eq!(canon("/api/admin/..").unwrap(), "/api/");
    assert_eq!(canon("/..").unwrap(), "/");
    assert_eq!(canon("/.").unwrap(), "/");
}

#[test]
#[wasm_bindgen_test]
fn encoded_dots_are_dot_segments() {
    assert_eq!(canon("/api/%2e/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/x/%2e%2e/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/x/.%2E/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/x/%2E./admin").unwrap(), "/api/admin");
}

#[test]
#[wasm_bindgen_test]
fn repeated_slashes_merge_and_a_trailing_slash_stays() {
    assert_eq!(canon("//api/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api///admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/admin//").unwrap(), "/api/admin/");
    assert_eq!(canon("//").unwrap(), "/");
    assert_eq!(
        canon("/a//../b").unwrap(),
        "/b",
        "merged before dots, as nginx"
    );
}

#[test]
#[wasm_bindgen_test]
fn path_parameters_are_stripped_or_kept() {
    assert_eq!(canon("/api/admin;x").unwrap(), "/api/admin");
    assert_eq!(canon("/api;x/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/x/..;/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/;x/api/admin").unwrap(), "/api/admin");
    assert_eq!(canon("/api/admin/;jsessionid=1").unwrap(), "/api/admin/");
    let kept = canonicalize("/api/admin;x", LENIENT).unwrap();
    assert!(matches!(kept, Cow::Borrowed("/api/admin;x")));
    assert_eq!(
        canonicalize("/a/..;/b", LENIENT).unwrap(),
        "/a/..;/b",
        "`..;` is not a dot segment when `;` is data"
    );
}

#[test]
#[wasm_bindgen_test]
fn characters_outside_rfc_3986_are_percent_encoded() {
    assert_eq!(canon("/a b").unwrap(), "/a%20b");
    assert_eq!(
        canon("/{x}|^`\"<>[]").unwrap(),
        "/%7Bx%7D%7C%5E%60%22%3C%3E%5B%5D"
    );
    assert_eq!(canon("/café").unwrap(), "/caf%C3%A9");
}

#[test]
#[wasm_bindgen_test]
fn encoded_slashes_are_refused_or_kept_as_data() {
    assert_eq!(canon("/api%2Fadmin"), Err(PathFault::EncodedSlash));
    assert_eq!(canon("/api%2fadmin"), Err(PathFault::EncodedSlash));
    assert_eq!(canon("/api%5Cadmin"), Err(PathFault::EncodedSlash));
    assert_eq!(
        canonicalize("/repos/a%2fb", LENIENT).unwrap(),
        "/repos/a%2Fb"
    );
    assert_eq!(
        canonicalize("/a/%2e%2e%2fadmin", LENIENT).unwrap(),
        "/a/..%2Fadmin",
        "one segment, not a dot segment"
    );
}

#[test]
#[wasm_bindgen_test]
fn ambiguous_paths_are_refused() {
    assert_eq!(canon("/api\\admin"), Err(PathFault::Backslash));
    assert_eq!(canon("/api/..\\admin"), Err(PathFault::Backslash));
    assert_eq!(
        canon("/api/%252e%252e/admin"),
        Err(PathFault::DoubleEncoding)
    );
    assert_eq!(canon("/api/%25%32%65"), Err(PathFault::DoubleEncoding));
    assert_eq!(canon("/api/%252F"), Err(PathFault::DoubleEncoding));
    assert_eq!(canon("/a%00b"), Err(PathFault::ControlCharacter));
    assert_eq!(canon("/a\0b"), Err(PathFault::ControlCharacter));
    assert_eq!(canon("/a%0d%0ab"), Err(PathFault::ControlCharacter));
    assert_eq!(canon("/a%7f"), Err(PathFault::ControlCharacter));
    assert_eq!(canon("/a\tb"), Err(PathFault::ControlCharacter));
}

#[test]
#[wasm_bindgen_test]
fn c1_control_characters_are_refused_raw_or_encoded() {
    // Found by the canonicalize fuzz target: `%C2%83` (U+0083) passed and decoded to a control.
    assert_eq!(canon("/a%C2%83b"), Err(PathFault::ControlCharacter));
    assert_eq!(canon("/a%c2%9fb"), Err(PathFault::ControlCharacter));
    assert_eq!(canon("/a\u{85}b"), Err(PathFault::ControlCharacter));
    assert_eq!(
        canon("/a%C2%A0b").as_deref(),
        Ok("/a%C2%A0b"),
        "U+00A0 is no control"
    );
}

#[test]
#[wasm_bindgen_test]
fn invalid_escapes_and_utf8_are_refused() {
    assert_eq!(canon("/a%"), Err(PathFault::InvalidEscape));
    assert_eq!(canon("/a%4"), Err(PathFault::InvalidEscape));
    assert_eq!(canon("/a%zz"), Err(PathFault::InvalidEscape));
    assert_eq!(canon("/a%%32%65"), Err(PathFault::InvalidEscape));
    assert_eq!(
        canon("/%c0%ae%c0%ae/x"),
        Err(PathFault::InvalidUtf8),
        "overlong `.`"
    );
    assert_eq!(canon("/%e9"), Err(PathFault::InvalidUtf8), "Latin-1");
    assert_eq!(canon("/%c3"), Err(PathFault::InvalidUtf8), "truncated");
    assert_eq!(canon("/%c3é"), Err(PathFault::InvalidUtf8));
    assert_eq!(canon("/a\u{FFFD}"), Err(PathFault::InvalidUtf8));
}

#[test]
#[wasm_bindgen_test]
fn fragments_and_other_forms_are_refused() {
    assert_eq!(canon("/a#b"), Err(PathFault::Fragment));
    assert_eq!(canon("a/b"), Err(PathFault::NotOriginForm));
    assert_eq!(canon(""), Err(PathFault::NotOriginForm));
    assert_eq!(canon("http://x/a"), Err(PathFault::NotOriginForm));
}

#[test]
#[wasm_bindgen_test]
fn the_canonical_form_is_a_fixed_point() {
    let corpus = [
        "//api//admin/",
        "/api/%61dmin",
        "/a/./b/../c/%2e%2E/d",
        "/caf%c3%a9/x y/{z}",
        "/a;b/c;d=e/..;/f",
        "/%7e%2d/%3F%23",
        "/../..",
        "/a/b/.",
        "/50%25off",
    ];
    for options in [STRICT, LENIENT] {
        for p in corpus {
            let Ok(once) = canonicalize(p, options) else {
                continue;
            };
            let twice = canonicalize(&once, options).unwrap();
            assert!(matches!(twice, Cow::Borrowed(_)), "{p} → {once} → {twice}");
        }
    }
}

#[test]
#[wasm_bindgen_test]
fn every_fault_is_described() {
    for f in [
        PathFault::NotOriginForm,
        PathFault::Fragment,
        PathFault::InvalidEscape,
        PathFault::EncodedSlash,
        PathFault::Backslash,
        PathFault::DoubleEncoding,
        PathFault::ControlCharacter,
        PathFault::InvalidUtf8,
    ] {
        assert!(!f.describe().is_empty());
    }
}
