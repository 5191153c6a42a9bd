//! Palisade headers filter.
#![forbid(unsafe_code)]
