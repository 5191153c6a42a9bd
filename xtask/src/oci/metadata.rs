//! Where the annotations come from: the filter crate's manifest (`cargo metadata`) and git.

use super::pack::Metadata;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Overrides the revision annotation (builds outside a git checkout, or pinned by a release job).
pub const REVISION_ENV: &str = "PALISADE_OCI_REVISION";

/// Package facts for every workspace crate, read once.
pub struct Workspace {
    packages: Vec<Value>,
    revision: String,
    created: String,
}

impl Workspace {
    /// Reads `cargo metadata` and git HEAD of the workspace at `root` (or [`REVISION_ENV`]).
    ///
    /// `created` is `SOURCE_DATE_EPOCH` when set (the reproducible-builds convention), else the
    /// HEAD commit time, else the Unix epoch: never "now", so two builds of one commit agree.
    pub fn read(root: &Path) -> Result<Self, String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let out = Command::new(cargo)
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .current_dir(root)
            .output()
            .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let metadata: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("cargo metadata output: {e}"))?;
        let packages = metadata
            .get("packages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let revision = std::env::var(REVISION_ENV)
            .ok()
            .filter(|r| !r.is_empty())
            .or_else(|| git(root, &["rev-parse", "HEAD"]))
            .unwrap_or_else(|| "unknown".to_string());
        let epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .or_else(|| git(root, &["log", "-1", "--format=%ct"])?.parse().ok())
            .unwrap_or(0);
        let created = chrono::DateTime::from_timestamp(epoch, 0)
            .ok_or_else(|| format!("bad timestamp {epoch}"))?
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(Self {
            packages,
            revision,
            created,
        })
    }

    /// The annotations for `palisade-<filter>` (the bundle `palisade`: `palisade-pipeline`).
    pub fn metadata(&self, filter: &str) -> Result<Metadata, String> {
        let name = if filter == crate::oci::BUNDLE {
            "palisade-pipeline".to_string()
        } else {
            format!("palisade-{filter}")
        };
        let package = self
            .packages
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
            .ok_or_else(|| format!("no crate {name} in the workspace"))?;
        let field = |key: &str| {
            package
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(Metadata {
            filter: filter.to_string(),
            title: name.clone(),
            description: field("description"),
            version: field("version"),
            source: field("repository"),
            revision: self.revision.clone(),
            licenses: field("license"),
            created: self.created.clone(),
        })
    }
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
