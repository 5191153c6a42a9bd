//! Microbenchmarks live in `benches/`; run with `cargo bench -p palisade-benches`.
#![forbid(unsafe_code)]
