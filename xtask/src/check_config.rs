//! `cargo xtask check-config FILE... [--filter NAME]`: runs each filter configuration a file holds
//! through the filter's own parser and compiler (what `on_configure` runs), and prints every
//! error with its field path. Files: a filter's JSON configuration (the filter comes from
//! `--filter`, the file's name or its folder's), an Envoy bootstrap (YAML or JSON: every
//! Palisade Wasm filter in it), Istio `WasmPlugin` or Envoy Gateway `EnvoyExtensionPolicy`
//! manifests (YAML).

use crate::configs::{configs_in, known_filter, FoundConfig, FILTERS};
use palisade_core::ConfigError;
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: cargo xtask check-config FILE... [--filter NAME]

  Checks filter configurations with the filters' own parsers and prints each error's field path.
  FILE is a filter's JSON configuration, an Envoy bootstrap (YAML/JSON), Istio WasmPlugin or
  Envoy Gateway EnvoyExtensionPolicy manifests (YAML). --filter NAME (headers, jwt, ratelimit, schema, or palisade: the bundle) names the filter of a plain
  configuration whose file name does not. Exit status 1 when any configuration is invalid.";

/// Checks a configuration with the filter's `check_config` (parse, then compile; no host).
pub fn check(filter: &str, json: &[u8]) -> Result<(), ConfigError> {
    match filter {
        "headers" => palisade_headers::check_config(json),
        "jwt" => palisade_jwt::check_config(json),
        "ratelimit" => palisade_ratelimit::check_config(json),
        "schema" => palisade_schema::check_config(json),
        "palisade" => palisade::check_config(json),
        other => Err(ConfigError::at(
            ".",
            format!("no filter `{other}` (filters: {})", FILTERS.join(", ")),
        )),
    }
}

/// The line printed for one configuration: `FILE: invalid configuration at `path`: reason`,
/// with the place in the file and the filter for configurations inside a larger document.
pub fn report_line(file: &Path, found: &FoundConfig, result: &Result<(), ConfigError>) -> String {
    let outcome = match result {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    if found.location.is_empty() {
        match result {
            Ok(()) => format!("{}: ok ({})", file.display(), found.filter),
            Err(_) => format!("{}: {outcome}", file.display()),
        }
    } else {
        format!(
            "{}: {} ({}): {outcome}",
            file.display(),
            found.location,
            found.filter
        )
    }
}

struct Args {
    files: Vec<PathBuf>,
    filter: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut files = Vec::new();
    let mut filter = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--filter" => {
                let name = it.next().ok_or("--filter needs a filter name")?;
                known_filter(name)?;
                filter = Some(name.clone());
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            file => files.push(PathBuf::from(file)),
        }
    }
    if files.is_empty() {
        return Err(USAGE.to_string());
    }
    Ok(Args { files, filter })
}

/// `cargo xtask check-config ...`: an error when any configuration is invalid (exit status 1).
pub fn cli(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let args = parse_args(args)?;
    let (mut checked, mut invalid) = (0usize, 0usize);
    for file in &args.files {
        let found = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| configs_in(file, &bytes, args.filter.as_deref()));
        let found = match found {
            Ok(found) if found.is_empty() => {
                eprintln!("{}: no Palisade filter configuration in it", file.display());
                invalid += 1;
                continue;
            }
            Ok(found) => found,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                invalid += 1;
                continue;
            }
        };
        for config in &found {
            let result = check(&config.filter, &config.json);
            checked += 1;
            let line = report_line(file, config, &result);
            if result.is_ok() {
                println!("{line}");
            } else {
                eprintln!("{line}");
                invalid += 1;
            }
        }
    }
    match invalid {
        0 => Ok(()),
        n => Err(format!(
            "{n} problem(s) in {} file(s), {checked} configuration(s) checked",
            args.files.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_printed_with_the_file_and_field_path() {
        let plain = FoundConfig {
            location: String::new(),
            filter: "ratelimit".into(),
            json: br#"{"rules": [{"name": "a", "limits": [{"requests": 1, "per": 0}]}]}"#.to_vec(),
        };
        let result = check(&plain.filter, &plain.json);
        assert_eq!(
            report_line(Path::new("rl.json"), &plain, &result),
            "rl.json: invalid configuration at `rules[0].limits[0].per`: must be more than zero"
        );
        let embedded = FoundConfig {
            location: "static_resources.x[1]".into(),
            filter: "headers".into(),
            json: Vec::new(),
        };
        let result = check(&embedded.filter, &embedded.json);
        assert_eq!(
            report_line(Path::new("e.yaml"), &embedded, &result),
            "e.yaml: static_resources.x[1] (headers): ok"
        );
    }

    #[test]
    fn every_filter_is_checked_by_its_own_parser() {
        for filter in FILTERS {
            let e = check(filter, br#"{"no_such_field": 1}"#).unwrap_err();
            assert_eq!(e.path, "no_such_field", "{filter}");
        }
        assert!(check("cors", b"{}").is_err());
    }

    #[test]
    fn arguments_need_a_file_and_a_known_filter() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(args(&[]).is_err());
        assert!(args(&["a.json", "--filter"]).is_err());
        assert!(args(&["a.json", "--filter", "cors"]).is_err());
        assert!(args(&["a.json", "--strict"]).is_err());
        let ok = args(&["a.json", "--filter", "jwt", "b.yaml"]).unwrap();
        assert_eq!(ok.files.len(), 2);
        assert_eq!(ok.filter.as_deref(), Some("jwt"));
    }
}
