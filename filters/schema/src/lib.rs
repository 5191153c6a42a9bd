//! Palisade schema filter.
#![forbid(unsafe_code)]

pub mod validator;
