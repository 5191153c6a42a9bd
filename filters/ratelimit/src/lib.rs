//! Palisade ratelimit filter.
#![forbid(unsafe_code)]
