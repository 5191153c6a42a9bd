//! Pushes artifacts to a registry over the OCI distribution API (oci-client, driven by a
//! current-thread tokio runtime so the rest of xtask stays blocking).

use super::media::OCI_MANIFEST;
use super::pack::Artifact;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use std::str::FromStr;

/// Environment variables holding registry credentials (HTTP basic; the client trades them for a
/// bearer token where the registry asks for one). Without them, the push is anonymous.
pub const USERNAME_ENV: &str = "PALISADE_REGISTRY_USERNAME";
/// See [`USERNAME_ENV`].
pub const PASSWORD_ENV: &str = "PALISADE_REGISTRY_PASSWORD";

/// A registry client.
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    runtime: tokio::runtime::Runtime,
}

/// Whether a registry host is on this machine (plain HTTP is then fine, as for `docker push`).
pub fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(registry, |(host, _)| host);
    matches!(host, "localhost" | "[::1]") || host.starts_with("127.")
}

impl Registry {
    /// A client speaking HTTPS, except plain HTTP to the registry hosts in `plain_http`.
    pub fn new(plain_http: Vec<String>) -> Result<Self, String> {
        // Already installed (a second registry in one run) is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain_http),
            ..ClientConfig::default()
        };
        let auth = match (std::env::var(USERNAME_ENV), std::env::var(PASSWORD_ENV)) {
            (Ok(user), Ok(password)) => RegistryAuth::Basic(user, password),
            _ => RegistryAuth::Anonymous,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        Ok(Self {
            client: Client::new(config),
            auth,
            runtime,
        })
    }

    /// Pushes every blob, then the manifest (exact bytes) under `reference`; checks the registry
    /// reports the same manifest digest, and returns it.
    pub fn push(&self, artifact: &Artifact, reference: &str) -> Result<String, String> {
        let image = Reference::from_str(reference)
            .map_err(|e| format!("bad image reference {reference}: {e}"))?;
        let fail = |what: &str, e: oci_client::errors::OciDistributionError| {
            format!("{reference}: {what}: {e}")
        };
        self.runtime.block_on(async {
            self.client
                .auth(&image, &self.auth, RegistryOperation::Push)
                .await
                .map_err(|e| fail("authentication", e))?;
            for blob in artifact.blobs() {
                let present = self
                    .client
                    .blob_exists(&image, &blob.digest)
                    .await
                    .unwrap_or(false);
                if !present {
                    self.client
                        .push_blob(&image, blob.bytes.clone(), &blob.digest)
                        .await
                        .map_err(|e| fail(&format!("blob {}", blob.digest), e))?;
                }
            }
            let content_type = http::HeaderValue::from_static(OCI_MANIFEST);
            self.client
                .push_manifest_raw(&image, artifact.manifest.clone(), content_type)
                .await
                .map_err(|e| fail("manifest", e))?;
            let stored = self
                .client
                .fetch_manifest_digest(&image, &self.auth)
                .await
                .map_err(|e| fail("manifest digest", e))?;
            if stored == artifact.digest {
                Ok(stored)
            } else {
                Err(format!(
                    "{reference}: the registry stored manifest {stored}, we pushed {}",
                    artifact.digest
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_registries_are_recognised() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("registry.example.com:5000"));
    }
}
