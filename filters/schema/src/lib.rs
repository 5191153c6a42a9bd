//! Palisade schema filter.
#![forbid(unsafe_code)]
