//! Before/after in one run: every Palisade variant again with another build of its modules.
//!
//! `PALISADE_BENCH_BASELINE=<dir>` names a directory of `.wasm` files (say, the modules of the
//! main branch, copied from `target/wasm32-wasip1/release/`). Each Wasm variant with a module of
//! the same file name there gets a twin row, `<id>-base` ("… (baseline modules)"), that loads
//! those files instead: same config, request, floor and native peer, interleaved with every other
//! variant in the same rounds, so machine load falls on both alike. The module table then has the
//! baseline module sets too (size, start to ready, RSS).
//!
//! `PALISADE_BENCH_JWT_BASELINE=<file>`, the older form, is one `palisade_jwt.wasm` to use as
//! the baseline of the jwt module alone.

use super::variants::Variant;
use palisade_e2e::Filter;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The suffix of a twin's id.
const TWIN: &str = "-base";

/// Whether a variant id is a baseline twin's.
pub fn is_twin(id: &str) -> bool {
    id.ends_with(TWIN)
}

/// A directory of baseline modules, matched to the built ones by file name.
pub const BASELINE: &str = "PALISADE_BENCH_BASELINE";
/// One baseline `palisade_jwt.wasm` (kept for existing scripts; [`BASELINE`] covers it).
pub const JWT_BASELINE: &str = "PALISADE_BENCH_JWT_BASELINE";

/// Where a twin's module path is in a Wasm filter's `http_filters` entry.
const FILENAME: &str = "/typed_config/config/vm_config/code/local/filename";

/// The baseline module for each module file name.
#[derive(Debug, Default)]
pub struct Baseline {
    files: Vec<(OsString, PathBuf)>,
}

impl Baseline {
    /// From [`BASELINE`] and [`JWT_BASELINE`]; empty when neither is set.
    pub fn from_env() -> Result<Self, String> {
        let mut baseline = match std::env::var_os(BASELINE) {
            Some(dir) => Self::from_dir(Path::new(&dir))?,
            None => Self::default(),
        };
        if let Some(file) = std::env::var_os(JWT_BASELINE).map(PathBuf::from) {
            if !file.is_file() {
                return Err(format!("{JWT_BASELINE}: {} is not a file", file.display()));
            }
            baseline.insert(OsString::from("palisade_jwt.wasm"), file);
        }
        Ok(baseline)
    }

    /// Every `.wasm` file in `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("{BASELINE}: {}: {e}", dir.display()))?;
        let mut baseline = Self::default();
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
                if let Some(name) = path.file_name() {
                    baseline.insert(name.to_owned(), path.clone());
                }
            }
        }
        if baseline.files.is_empty() {
            return Err(format!("{BASELINE}: no .wasm file in {}", dir.display()));
        }
        Ok(baseline)
    }

    fn insert(&mut self, name: OsString, path: PathBuf) {
        self.files.retain(|(n, _)| n != &name);
        self.files.push((name, path));
    }

    /// Whether there is no baseline module at all.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The baseline of a built module, by its file name.
    fn of(&self, module: &Path) -> Option<&Path> {
        let name = module.file_name()?;
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_path())
    }

    /// `variants`, each followed by its baseline twin where one of its modules has a baseline.
    pub fn interleave(&self, variants: Vec<Variant>) -> Vec<Variant> {
        let mut out = Vec::with_capacity(variants.len());
        for v in variants {
            let twin = self.twin(&v);
            out.push(v);
            out.extend(twin);
        }
        out
    }

    /// The variant with its modules swapped for their baselines; `None` if none has one.
    pub fn twin(&self, v: &Variant) -> Option<Variant> {
        let swaps: Vec<(&Path, &Path)> = v
            .modules
            .iter()
            .filter_map(|m| Some((m.as_path(), self.of(m)?)))
            .collect();
        if swaps.is_empty() {
            return None;
        }
        let swap = |m: &Path| {
            swaps
                .iter()
                .find(|(built, _)| *built == m)
                .map_or_else(|| m.to_path_buf(), |(_, base)| base.to_path_buf())
        };
        Some(Variant {
            id: format!("{}{TWIN}", v.id),
            name: format!("{} (baseline modules)", v.name),
            kind: v.kind,
            floor: v.floor,
            native: v.native,
            filters: v.filters.iter().map(|f| swap_module(f, &swap)).collect(),
            route: v.route.clone(),
            load: v.load.clone(),
            expect: v.expect,
            probes: v.probes.clone(),
            modules: v.modules.iter().map(|m| swap(m)).collect(),
            concurrency: v.concurrency,
            own_start: v.own_start,
            clusters: v.clusters.clone(),
            ready_on_first_answer: v.ready_on_first_answer,
            release_memory: v.release_memory,
        })
    }
}

/// A filter entry with its Wasm module file swapped (native filters unchanged).
fn swap_module(filter: &Filter, swap: &impl Fn(&Path) -> PathBuf) -> Filter {
    let mut json = filter.to_json();
    if let Some(slot) = json.pointer_mut(FILENAME) {
        if let Some(file) = slot.as_str() {
            *slot = swap(Path::new(file)).display().to_string().into();
        }
    }
    // `native` takes any `http_filters` entry as it is.
    Filter::native(json)
}

#[cfg(test)]
mod tests {
    use super::super::variants::{Expect, Kind};
    use super::super::wrk::Load;
    use super::*;
    use serde_json::json;

    fn variant(id: &str, modules: &[&str]) -> Variant {
        Variant {
            id: id.into(),
            name: id.into(),
            kind: Kind::Wasm,
            floor: "floor",
            native: Some("native-x"),
            filters: modules
                .iter()
                .map(|m| Filter::wasm_module("x", Path::new(m), json!({"a": 1})))
                .chain(std::iter::once(Filter::native(json!({"name": "buffer"}))))
                .collect(),
            route: json!({}),
            load: Load::get("/"),
            expect: Expect::Admitted,
            probes: Vec::new(),
            modules: modules.iter().map(PathBuf::from).collect(),
            concurrency: 1,
            own_start: false,
            clusters: Vec::new(),
            ready_on_first_answer: false,
            release_memory: false,
        }
    }

    fn filenames(v: &Variant) -> Vec<String> {
        v.filters
            .iter()
            .filter_map(|f| f.to_json().pointer(FILENAME)?.as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn twins_load_the_baseline_files_of_the_same_name_and_follow_their_variant() {
        let mut baseline = Baseline::default();
        baseline.insert(
            "palisade_jwt.wasm".into(),
            PathBuf::from("/old/palisade_jwt.wasm"),
        );
        let variants = vec![
            variant("floor", &[]),
            variant("headers", &["/new/palisade_headers.wasm"]),
            variant(
                "chain",
                &["/new/palisade_headers.wasm", "/new/palisade_jwt.wasm"],
            ),
        ];
        let out = baseline.interleave(variants);
        let ids: Vec<&str> = out.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["floor", "headers", "chain", "chain-base"]);
        assert!(is_twin("chain-base") && !is_twin("chain"));
        let twin = out.get(3).unwrap();
        assert_eq!(twin.name, "chain (baseline modules)");
        assert_eq!(
            filenames(twin),
            ["/new/palisade_headers.wasm", "/old/palisade_jwt.wasm"]
        );
        assert_eq!(
            twin.modules,
            [
                PathBuf::from("/new/palisade_headers.wasm"),
                PathBuf::from("/old/palisade_jwt.wasm")
            ]
        );
        assert_eq!(twin.floor, "floor");
        assert_eq!(twin.native, Some("native-x"));
        // The native filter and the Wasm config are kept as they are.
        assert_eq!(twin.filters.len(), 3);
        assert_eq!(
            twin.filters.get(2).unwrap().to_json(),
            json!({"name": "buffer"})
        );
        let config = "/typed_config/config/configuration/value";
        assert_eq!(
            twin.filters.first().unwrap().to_json().pointer(config),
            out.get(2)
                .unwrap()
                .filters
                .first()
                .unwrap()
                .to_json()
                .pointer(config)
        );
    }

    #[test]
    fn a_directory_gives_every_wasm_file_in_it() {
        let dir = std::env::temp_dir().join(format!("palisade-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("palisade_headers.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.join("palisade_headers.wasm.symbols"), b"").unwrap();
        let baseline = Baseline::from_dir(&dir).unwrap();
        assert_eq!(
            baseline.of(Path::new("/new/palisade_headers.wasm")),
            Some(dir.join("palisade_headers.wasm").as_path())
        );
        assert_eq!(
            baseline.of(Path::new("/new/palisade_headers.wasm.symbols")),
            None
        );
        assert_eq!(baseline.of(Path::new("/new/palisade_jwt.wasm")), None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Baseline::from_dir(&dir).is_err());
    }
}
