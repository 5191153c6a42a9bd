//! `palisade_jwt.wasm`: the core's Proxy-Wasm adapter with the jwt stage alone.

#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    palisade_core::adapter::init(filter::stage::FILTER_NAME);
    proxy_wasm::set_root_context(|id| {
        palisade_core::adapter::root(id, filter::stage::FILTER_NAME, configure::module)
    });
}}
