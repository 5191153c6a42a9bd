//! Palisade jwt filter.
#![forbid(unsafe_code)]
