//! Media types and the three artifact formats Wasm hosts pull.

/// An OCI image manifest (also the `Content-Type` of a manifest push and pull).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index (`index.json` of an image layout).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A standard OCI image config (the compat format's config).
pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// A gzipped tar layer: the only compat layer type Istio takes from an OCI manifest.
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Solo's Wasm runtime config (manifest config, and again as the first of two layers).
pub const SOLO_CONFIG: &str = "application/vnd.module.wasm.config.v1+json";
/// Solo's raw Wasm module layer.
pub const SOLO_CONTENT_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
/// The CNCF TAG Runtime Wasm OCI artifact config.
pub const CNCF_WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The CNCF Wasm OCI artifact layer: the module itself.
pub const CNCF_WASM_LAYER: &str = "application/wasm";

/// Manifest annotation that marks a compat image built on the OCI layer type.
pub const COMPAT_VARIANT_ANNOTATION: &str = "module.wasm.image/variant";
/// The file Istio looks for in a compat layer (it matches on the base name).
pub const PLUGIN_FILE: &str = "plugin.wasm";
/// The Proxy-Wasm ABI version the modules speak, as wasme's runtime config names it
/// (the modules export `proxy_abi_version_0_2_1`; proxy-wasm 0.2).
pub const PROXY_WASM_ABI: &str = "v0.2.1";

/// How a module is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Istio/Solo *compat*: an OCI image whose last layer is a tar.gz holding `plugin.wasm`.
    Compat,
    /// Solo *oci*: the runtime config layer and the raw module layer (exactly two layers).
    SoloOci,
    /// CNCF Wasm OCI artifact: `application/vnd.wasm.config.v0+json` config, one `application/wasm` layer.
    CncfWasm,
}

impl Format {
    /// Every format, compat first (the one Istio and plain registries take everywhere).
    pub const ALL: [Format; 3] = [Format::Compat, Format::SoloOci, Format::CncfWasm];

    /// Its name in directories and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Format::Compat => "compat",
            Format::SoloOci => "solo-oci",
            Format::CncfWasm => "cncf-wasm",
        }
    }

    /// What a pushed tag gets appended (compat keeps the plain tag).
    pub fn tag_suffix(self) -> &'static str {
        match self {
            Format::Compat => "",
            Format::SoloOci => "-solo-oci",
            Format::CncfWasm => "-cncf-wasm",
        }
    }

    /// The format named `id`.
    pub fn from_id(id: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.id() == id)
    }
}
