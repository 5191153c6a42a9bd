//! `cargo xtask oci` against a real registry: Debian's `docker-registry` on loopback. Every format
//! is pushed, pulled back over the distribution API, and read the way its host reads it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::istio::{istio_fetch, pull_blob, pull_manifest, sha256, IstioReading, OCI_MANIFEST};
use support::registry::LocalRegistry;
use support::{fixture_module, metadata, noise};
use xtask::oci::registry::Registry;
use xtask::oci::{pack, Format};

const FILTERS: [&str; 4] = ["headers", "jwt", "ratelimit", "schema"];

fn push(registry: &LocalRegistry, artifact: &xtask::oci::Artifact, reference: &str) -> String {
    let client = Registry::new(vec![registry.host()]).unwrap();
    client.push(artifact, reference).unwrap()
}

#[test]
fn istio_reads_compat_and_solo_oci_images_byte_identical() {
    let registry = LocalRegistry::start();
    let module = fixture_module(b"istio reads this");
    let meta = metadata("headers");
    for (format, reading) in [
        (Format::Compat, IstioReading::Compat),
        (Format::SoloOci, IstioReading::Oci),
    ] {
        let artifact = pack(format, &module, &meta).unwrap();
        let tag = format.id();
        let digest = push(
            &registry,
            &artifact,
            &format!("{}/palisade/headers:{tag}", registry.host()),
        );
        assert_eq!(digest, artifact.digest);

        let pulled = pull_manifest(&registry, "palisade/headers", tag);
        assert_eq!(pulled.content_type, OCI_MANIFEST);
        assert_eq!(pulled.digest, artifact.digest);
        assert_eq!(
            pulled.bytes, artifact.manifest,
            "the registry must keep the manifest bytes"
        );
        assert_eq!(sha256(&pulled.bytes), artifact.digest);

        let (used, fetched) = istio_fetch(&registry, "palisade/headers", tag).unwrap();
        assert_eq!(used, reading, "{tag}");
        assert_eq!(
            fetched, module,
            "{tag}: pulled module differs from the packed one"
        );
        // Istio pins a module by manifest digest too (WasmPlugin `sha256`).
        let (_, by_digest) = istio_fetch(&registry, "palisade/headers", &artifact.digest).unwrap();
        assert_eq!(by_digest, module);
    }
}

#[test]
fn manifests_carry_exactly_the_media_types_and_annotations_hosts_expect() {
    let module = fixture_module(b"media types");
    let meta = metadata("jwt");
    let manifest = |format| -> Value {
        serde_json::from_slice(&pack(format, &module, &meta).unwrap().manifest).unwrap()
    };
    let media = |v: &Value| v["mediaType"].as_str().unwrap().to_string();
    let layer_media = |m: &Value| {
        m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(media)
            .collect::<Vec<_>>()
    };

    let compat = manifest(Format::Compat);
    assert_eq!(compat["schemaVersion"], 2);
    assert_eq!(media(&compat), OCI_MANIFEST);
    assert_eq!(
        media(&compat["config"]),
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(
        layer_media(&compat),
        ["application/vnd.oci.image.layer.v1.tar+gzip"]
    );
    assert_eq!(compat["annotations"]["module.wasm.image/variant"], "compat");

    let solo = manifest(Format::SoloOci);
    assert_eq!(media(&solo), OCI_MANIFEST);
    assert_eq!(
        media(&solo["config"]),
        "application/vnd.module.wasm.config.v1+json"
    );
    assert_eq!(
        layer_media(&solo),
        [
            "application/vnd.module.wasm.config.v1+json",
            "application/vnd.module.wasm.content.layer.v1+wasm"
        ]
    );
    assert_eq!(solo["layers"][0]["digest"], solo["config"]["digest"]);
    // wasme's runtime config: which Proxy-Wasm ABI, which root id to configure.
    let runtime: Value =
        serde_json::from_slice(&pack(Format::SoloOci, &module, &meta).unwrap().config.bytes)
            .unwrap();
    assert_eq!(
        runtime,
        serde_json::json!({"type": "envoy_proxy", "abiVersions": ["v0.2.1"], "config": {"rootIds": ["palisade_jwt"]}})
    );

    let cncf = manifest(Format::CncfWasm);
    assert_eq!(media(&cncf), OCI_MANIFEST);
    assert_eq!(
        media(&cncf["config"]),
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(layer_media(&cncf), ["application/wasm"]);
    assert_eq!(cncf["layers"][0]["digest"], sha256(&module).as_str());

    for m in [&compat, &solo, &cncf] {
        let a = &m["annotations"];
        assert_eq!(a["org.opencontainers.image.title"], "palisade-jwt");
        assert_eq!(a["org.opencontainers.image.description"], "test fixture");
        assert_eq!(a["org.opencontainers.image.version"], "0.1.0");
        assert_eq!(
            a["org.opencontainers.image.source"],
            "https://github.com/palisade/palisade"
        );
        assert_eq!(
            a["org.opencontainers.image.revision"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(
            a["org.opencontainers.image.created"],
            "2026-01-01T00:00:00Z"
        );
    }
}

#[test]
fn cncf_artifact_round_trips_and_istio_refuses_it() {
    let registry = LocalRegistry::start();
    let module = fixture_module(b"cncf");
    let artifact = pack(Format::CncfWasm, &module, &metadata("schema")).unwrap();
    push(
        &registry,
        &artifact,
        &format!("{}/palisade/schema:cncf", registry.host()),
    );

    let pulled = pull_manifest(&registry, "palisade/schema", "cncf");
    assert_eq!(pulled.content_type, OCI_MANIFEST);
    assert_eq!(pulled.digest, artifact.digest);
    let layer = &pulled.json["layers"][0];
    assert_eq!(layer["mediaType"], "application/wasm");
    assert_eq!(
        pull_blob(
            &registry,
            "palisade/schema",
            layer["digest"].as_str().unwrap()
        ),
        module
    );
    let config: Value = serde_json::from_slice(&pull_blob(
        &registry,
        "palisade/schema",
        pulled.json["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip1");
    assert_eq!(config["layerDigests"], serde_json::json!([sha256(&module)]));

    // Istio takes only the two Solo layouts: this is why the compat image is the default tag.
    let refused = istio_fetch(&registry, "palisade/schema", "cncf").unwrap_err();
    assert!(refused.contains("application/wasm"), "{refused}");
}

#[test]
fn same_module_same_digests_and_a_changed_module_changes_them() {
    let meta = metadata("ratelimit");
    let a = fixture_module(b"one");
    let b = fixture_module(b"two");
    for format in Format::ALL {
        let first = pack(format, &a, &meta).unwrap();
        let second = pack(format, &a, &meta).unwrap();
        assert_eq!(
            first,
            second,
            "{}: packing is not reproducible",
            format.id()
        );
        assert_ne!(first.digest, pack(format, &b, &meta).unwrap().digest);
        let mut later = meta.clone();
        later.revision = "fedcba9876543210fedcba9876543210fedcba98".to_string();
        assert_ne!(first.digest, pack(format, &a, &later).unwrap().digest);
    }
}

#[test]
fn compat_layer_is_one_pinned_plugin_wasm_entry_and_the_config_names_its_diff_id() {
    let module = fixture_module(b"tar");
    let artifact = pack(Format::Compat, &module, &metadata("headers")).unwrap();
    let layer = &artifact.layers[0];
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(layer.bytes.as_slice())
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let entries: Vec<_> = archive.entries().unwrap().map(Result::unwrap).collect();
    assert_eq!(entries.len(), 1);
    let header = entries[0].header();
    assert_eq!(header.path().unwrap(), Path::new("plugin.wasm"));
    assert_eq!(header.size().unwrap(), module.len() as u64);
    assert_eq!(
        (
            header.mtime().unwrap(),
            header.uid().unwrap(),
            header.gid().unwrap()
        ),
        (0, 0, 0)
    );
    assert_eq!(header.mode().unwrap(), 0o644);

    let config: Value = serde_json::from_slice(&artifact.config.bytes).unwrap();
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([sha256(&tar_bytes)])
    );
    assert_eq!(
        (config["architecture"].as_str(), config["os"].as_str()),
        (Some("wasm"), Some("wasip1"))
    );
}

#[test]
fn large_modules_go_up_in_chunks_and_come_back_whole() {
    // Over oci-client's 4 MiB upload chunk, so the blob is sent as several PATCHes.
    let registry = LocalRegistry::start();
    let module = fixture_module(&noise(9 * 1024 * 1024 + 17));
    for format in [Format::Compat, Format::SoloOci] {
        let artifact = pack(format, &module, &metadata("jwt")).unwrap();
        push(
            &registry,
            &artifact,
            &format!("{}/palisade/jwt:{}", registry.host(), format.id()),
        );
        let (_, fetched) = istio_fetch(&registry, "palisade/jwt", format.id()).unwrap();
        assert!(
            fetched == module,
            "{}: large module differs after the round trip",
            format.id()
        );
    }
}

#[test]
fn a_non_wasm_file_is_refused() {
    let err = pack(
        Format::Compat,
        b"<html>not wasm</html>",
        &metadata("headers"),
    )
    .unwrap_err();
    assert!(err.contains("not a WebAssembly module"), "{err}");
}

/// Runs `xtask oci ...` (the real command) and returns its stdout; panics with its output on failure.
fn xtask_oci(args: &[&str], envs: &[(&str, &str)]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("oci")
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "xtask oci failed\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// `(filter, format, digest, place)` rows of the command's closing table.
fn printed_digests(stdout: &str) -> Vec<(String, String, String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.len() == 4 && cols[2].starts_with("sha256:")).then(|| {
                (
                    cols[0].into(),
                    cols[1].into(),
                    cols[2].into(),
                    cols[3].into(),
                )
            })
        })
        .collect()
}

#[test]
fn the_command_writes_layouts_pushes_and_prints_the_same_digests_twice() {
    let registry = LocalRegistry::start();
    let scratch = palisade_e2e::paths::scratch_dir("oci-cmd");
    let wasm_dir = scratch.join("wasm");
    std::fs::create_dir_all(&wasm_dir).unwrap();
    let module = fixture_module(b"command");
    std::fs::write(wasm_dir.join("palisade_headers.wasm"), &module).unwrap();
    let out = scratch.join("out");
    let target = format!("{}/palisade:ci", registry.host());
    let args = [
        "--wasm-dir",
        wasm_dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--push",
        &target,
    ];
    // Pinned revision: another commit landing between the two runs must not change the digests.
    let env = [("PALISADE_OCI_REVISION", "test-revision")];

    let (first, stderr) = xtask_oci(&args, &env);
    for missing in ["jwt", "ratelimit", "schema"] {
        assert!(stderr.contains(&format!("skipped {missing}:")), "{stderr}");
    }
    let rows = printed_digests(&first);
    assert_eq!(rows.len(), 3, "{first}");
    let (second, _) = xtask_oci(&args, &env);
    assert_eq!(
        printed_digests(&second),
        rows,
        "digests changed between two builds"
    );

    for (filter, format, digest, reference) in &rows {
        assert_eq!(filter, "headers");
        let suffix = Format::from_id(format).unwrap().tag_suffix();
        assert_eq!(
            reference,
            &format!("{}/palisade/headers:ci{suffix}", registry.host())
        );
        // What the registry holds is what the command printed...
        let pulled = pull_manifest(&registry, "palisade/headers", &format!("ci{suffix}"));
        assert_eq!(&pulled.digest, digest);
        assert_eq!(
            pulled.json["annotations"]["org.opencontainers.image.revision"],
            "test-revision"
        );
        assert_eq!(
            pulled.json["annotations"]["org.opencontainers.image.title"],
            "palisade-headers"
        );
        // ...and what the layout holds.
        check_layout(&out.join("headers").join(format), digest, &pulled.bytes);
    }
    let (_, fetched) = istio_fetch(&registry, "palisade/headers", "ci").unwrap();
    assert_eq!(fetched, module);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// An OCI image layout: `oci-layout`, an `index.json` naming the manifest, content-addressed blobs.
fn check_layout(dir: &Path, digest: &str, manifest: &[u8]) {
    let layout: Value =
        serde_json::from_slice(&std::fs::read(dir.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["manifests"][0]["digest"], digest);
    assert_eq!(index["manifests"][0]["mediaType"], OCI_MANIFEST);
    assert_eq!(index["manifests"][0]["size"], manifest.len());
    let blobs = dir.join("blobs/sha256");
    assert_eq!(std::fs::read(blobs.join(&digest[7..])).unwrap(), manifest);
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(
            sha256(&std::fs::read(&path).unwrap()),
            format!("sha256:{name}")
        );
    }
}

/// The real filter modules that are built (`PALISADE_WASM_DIR`, default the release build).
fn built_filter_modules() -> Vec<(String, PathBuf)> {
    let dir = palisade_e2e::paths::wasm_dir();
    FILTERS
        .iter()
        .map(|f| (f.to_string(), dir.join(format!("palisade_{f}.wasm"))))
        .filter(|(_, p)| p.exists())
        .collect()
}

#[test]
fn real_filter_modules_round_trip_through_istio_pulls() {
    let modules = built_filter_modules();
    if modules.is_empty() {
        let dir = palisade_e2e::paths::wasm_dir();
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "no filter module in {} (CI=true): run `cargo xtask build` first",
                dir.display()
            );
        }
        eprintln!(
            "SKIPPING: no filter module in {} (run `cargo xtask build` or set PALISADE_WASM_DIR)",
            dir.display()
        );
        return;
    }
    let registry = LocalRegistry::start();
    for (filter, path) in modules {
        let module = std::fs::read(&path).unwrap();
        // The Solo config promises this ABI: the module must export it.
        assert!(
            module.windows(23).any(|w| w == b"proxy_abi_version_0_2_1"),
            "{} does not export proxy_abi_version_0_2_1",
            path.display()
        );
        let repo = format!("palisade/{filter}");
        for format in [Format::Compat, Format::SoloOci] {
            let artifact = pack(format, &module, &metadata(&filter)).unwrap();
            push(
                &registry,
                &artifact,
                &format!("{}/{repo}:{}", registry.host(), format.id()),
            );
            let (_, fetched) = istio_fetch(&registry, &repo, format.id()).unwrap();
            assert!(
                fetched == module,
                "{filter} {}: module differs after the round trip",
                format.id()
            );
        }
    }
}
