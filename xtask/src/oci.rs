//! `cargo xtask oci`: packs every built filter as OCI artifacts in the three formats Wasm hosts
//! pull (Istio/Solo compat, Solo oci, CNCF Wasm), writes OCI image layouts under `target/oci/`,
//! and with `--push` sends them to a registry. Same module and commit, same digests.

pub mod archive;
pub mod layout;
pub mod media;
pub mod metadata;
pub mod pack;
pub mod registry;

pub use media::Format;
pub use pack::{pack, Artifact, Blob, Metadata};

use std::path::{Path, PathBuf};

/// Usage of `cargo xtask oci`.
pub const USAGE: &str =
    "usage: cargo xtask oci [--push REGISTRY/REPO:TAG] [--filter NAME]... [--format FORMAT]...
                       [--wasm-dir DIR] [--out DIR] [--plain-http]

Packs each built filter (palisade_<name>.wasm) and the bundle (palisade.wasm, `--filter palisade`;
build them with `cargo xtask build`) as OCI artifacts and writes an OCI image layout per filter and format to <out>/<filter>/<format>/
(default: target/oci). Formats:
  compat     Istio/Solo compat image: OCI manifest, one tar+gzip layer holding plugin.wasm
  solo-oci   Solo oci variant: wasm config layer + application/vnd.module.wasm.content.layer.v1+wasm
  cncf-wasm  CNCF Wasm OCI artifact: application/vnd.wasm.config.v0+json + application/wasm

--push REGISTRY/REPO:TAG also pushes them: REGISTRY/REPO/<filter>:TAG (compat),
:TAG-solo-oci and :TAG-cncf-wasm. Plain HTTP for loopback registries or with --plain-http.
Credentials: PALISADE_REGISTRY_USERNAME and PALISADE_REGISTRY_PASSWORD (else anonymous).
Reproducible: created = SOURCE_DATE_EPOCH or the HEAD commit time; revision = git HEAD
(PALISADE_OCI_REVISION overrides it).";

/// What the command was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Filters to pack (default: all).
    pub filters: Vec<String>,
    /// Formats to pack (default: all).
    pub formats: Vec<Format>,
    /// Where the `.wasm` modules are.
    pub wasm_dir: PathBuf,
    /// Where the layouts go.
    pub out_dir: PathBuf,
    /// `REGISTRY/REPO` and `TAG` to push to.
    pub push: Option<(String, String)>,
    /// Speak plain HTTP to the push registry even if it is not on loopback.
    pub plain_http: bool,
    /// Fail on a missing module (filters named with `--filter`), instead of skipping it.
    pub require_all: bool,
}

/// One packed (and maybe pushed) artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The filter.
    pub filter: String,
    /// The format.
    pub format: Format,
    /// The manifest digest.
    pub digest: String,
    /// The layout directory written.
    pub layout: PathBuf,
    /// The reference pushed to, if any.
    pub pushed: Option<String>,
}

/// Parses the arguments after `oci`. `wasm_dir` is the default module directory, `filters` the
/// default filter list.
pub fn parse_args(args: &[String], wasm_dir: &Path, filters: &[&str]) -> Result<Options, String> {
    let mut options = Options {
        filters: Vec::new(),
        formats: Vec::new(),
        wasm_dir: wasm_dir.to_path_buf(),
        out_dir: default_out_dir(wasm_dir),
        push: None,
        plain_http: false,
        require_all: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--push" => options.push = Some(split_tag(&value("--push")?)?),
            "--filter" => {
                let filter = value("--filter")?;
                if !filters.contains(&filter.as_str()) {
                    return Err(format!(
                        "unknown filter {filter} (one of {})",
                        filters.join(", ")
                    ));
                }
                options.filters.push(filter);
                options.require_all = true;
            }
            "--format" => {
                let id = value("--format")?;
                let format = Format::from_id(&id).ok_or_else(|| {
                    format!("unknown format {id} (compat, solo-oci or cncf-wasm)")
                })?;
                options.formats.push(format);
            }
            "--wasm-dir" => options.wasm_dir = PathBuf::from(value("--wasm-dir")?),
            "--out" => options.out_dir = PathBuf::from(value("--out")?),
            "--plain-http" => options.plain_http = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n\n{USAGE}")),
        }
    }
    if options.filters.is_empty() {
        options.filters = filters.iter().map(|f| (*f).to_string()).collect();
    }
    if options.formats.is_empty() {
        options.formats = Format::ALL.to_vec();
    }
    Ok(options)
}

/// `target/wasm32-wasip1/release` → `target/oci`.
fn default_out_dir(wasm_dir: &Path) -> PathBuf {
    wasm_dir
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("oci")
}

/// `registry:5000/org/repo:tag` → (`registry:5000/org/repo`, `tag`).
fn split_tag(target: &str) -> Result<(String, String), String> {
    let last_slash = target.rfind('/').unwrap_or(0);
    match target.rfind(':') {
        Some(colon) if colon > last_slash => {
            let (repo, tag) = target.split_at(colon);
            let tag = tag.trim_start_matches(':');
            if repo.is_empty() || tag.is_empty() {
                Err(format!("--push {target}: expected REGISTRY/REPO:TAG"))
            } else {
                Ok((repo.to_string(), tag.to_string()))
            }
        }
        _ => Err(format!(
            "--push {target}: expected REGISTRY/REPO:TAG (the tag is missing)"
        )),
    }
}

/// The bundle's name among the packed modules: `palisade.wasm`, image `REPO/palisade:TAG`.
pub const BUNDLE: &str = "palisade";

/// The module file of a filter (or of the bundle).
pub fn module_path(wasm_dir: &Path, filter: &str) -> PathBuf {
    if filter == BUNDLE {
        return wasm_dir.join(format!("{BUNDLE}.wasm"));
    }
    wasm_dir.join(format!("palisade_{filter}.wasm"))
}

/// Packs, writes and pushes as `options` says. Missing modules are skipped with a note, unless
/// none is there (or a `--filter` asked for one that is missing).
pub fn run(options: &Options, workspace_root: &Path) -> Result<Vec<Packed>, String> {
    let workspace = metadata::Workspace::read(workspace_root)?;
    let registry = match &options.push {
        Some((repo, _)) => {
            let host = repo.split('/').next().unwrap_or_default().to_string();
            let plain = if options.plain_http || registry::is_loopback(&host) {
                vec![host]
            } else {
                Vec::new()
            };
            Some(registry::Registry::new(plain)?)
        }
        None => None,
    };
    let mut packed = Vec::new();
    let mut missing = Vec::new();
    for filter in &options.filters {
        let path = module_path(&options.wasm_dir, filter);
        let Ok(wasm) = std::fs::read(&path) else {
            eprintln!(
                "skipped {filter}: {} is missing (run `cargo xtask build`)",
                path.display()
            );
            missing.push(path);
            continue;
        };
        let meta = workspace.metadata(filter)?;
        for format in &options.formats {
            let artifact = pack(*format, &wasm, &meta)?;
            let dir = options.out_dir.join(filter).join(format.id());
            layout::write_layout(&artifact, &dir, &meta.version)?;
            let mut pushed = None;
            if let (Some(registry), Some((repo, tag))) = (&registry, &options.push) {
                let reference = format!("{repo}/{filter}:{tag}{}", format.tag_suffix());
                registry.push(&artifact, &reference)?;
                pushed = Some(reference);
            }
            packed.push(Packed {
                filter: filter.clone(),
                format: *format,
                digest: artifact.digest.clone(),
                layout: dir,
                pushed,
            });
        }
    }
    if packed.is_empty() || (options.require_all && !missing.is_empty()) {
        return Err(format!(
            "no filter module to pack (missing: {}); run `cargo xtask build` first",
            missing
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(packed)
}

/// `cargo xtask oci ...`: runs and prints the digests at the end.
pub fn cli(args: &[String], wasm_dir: &Path, filters: &[&str]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let options = parse_args(args, wasm_dir, filters)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let packed = run(&options, &root)?;
    println!(
        "\nOCI artifacts (layouts under {}):",
        options.out_dir.display()
    );
    for p in &packed {
        let place = p
            .pushed
            .clone()
            .unwrap_or_else(|| p.layout.display().to_string());
        println!(
            "  {:<10} {:<10} {}  {}",
            p.filter,
            p.format.id(),
            p.digest,
            place
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_string()).collect()
    }

    #[test]
    fn push_target_splits_at_the_tag_colon_not_the_port_colon() {
        assert_eq!(
            split_tag("127.0.0.1:5000/org/palisade:0.1.0").unwrap(),
            (
                "127.0.0.1:5000/org/palisade".to_string(),
                "0.1.0".to_string()
            )
        );
        assert!(split_tag("127.0.0.1:5000/org/palisade").is_err());
        assert!(split_tag("palisade:").is_err());
    }

    #[test]
    fn the_bundle_is_palisade_wasm_and_each_filter_its_own_module() {
        let dir = Path::new("/w");
        assert_eq!(module_path(dir, BUNDLE), Path::new("/w/palisade.wasm"));
        assert_eq!(module_path(dir, "jwt"), Path::new("/w/palisade_jwt.wasm"));
    }

    #[test]
    fn defaults_are_every_filter_every_format_beside_the_wasm_dir() {
        let o = parse_args(&[], Path::new("/t/wasm32-wasip1/release"), &["a", "b"]).unwrap();
        assert_eq!(o.filters, ["a", "b"]);
        assert_eq!(o.formats, Format::ALL);
        assert_eq!(o.out_dir, Path::new("/t/oci"));
        assert_eq!(o.push, None);
    }

    #[test]
    fn unknown_filters_formats_and_flags_are_refused() {
        let dir = Path::new("/t/wasm32-wasip1/release");
        assert!(parse_args(&args(&["--filter", "c"]), dir, &["a"]).is_err());
        assert!(parse_args(&args(&["--format", "docker"]), dir, &["a"]).is_err());
        assert!(parse_args(&args(&["--pus"]), dir, &["a"]).is_err());
        assert!(parse_args(&args(&["--push"]), dir, &["a"]).is_err());
        let o = parse_args(
            &args(&["--filter", "a", "--format", "solo-oci"]),
            dir,
            &["a", "b"],
        )
        .unwrap();
        assert_eq!(
            (o.filters, o.formats),
            (vec!["a".to_string()], vec![Format::SoloOci])
        );
    }
}
