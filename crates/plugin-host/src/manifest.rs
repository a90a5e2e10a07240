//! The manifest a plugin ships beside its component: name, version, world and requested capabilities.

use courier_error::{ErrorKind, HasKind};
use std::path::Path;

use serde::Deserialize;

use courier_config::capability::Capability;
pub use courier_config::world::{World, is_plugin_name};

/// The WIT package version this host speaks.
pub const API_VERSION: (u64, u64, u64) = (0, 1, 0);

/// A parsed and checked plugin manifest (`NAME.toml` beside `NAME.wasm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Plugin name; equals the file stem.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The world the component implements.
    pub world: World,
    /// Capabilities the plugin asks for.
    pub capabilities: Vec<Capability>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    world: World,
    api: String,
    #[serde(default)]
    capabilities: Vec<String>,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}; every plugin needs NAME.toml beside NAME.wasm")]
    Read {
        /// Manifest path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or missing fields.
    #[error("manifest {path} is malformed: {message}")]
    Malformed {
        /// Manifest path.
        path: String,
        /// What the parser said, with line and column.
        message: String,
    },
    /// A field has a value the host cannot accept.
    #[error("manifest {path}: {message}")]
    Invalid {
        /// Manifest path.
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: shown.clone(),
            source,
        })?;
        Manifest::parse(&text, &shown)
    }

    /// Parses and checks manifest text; `path` is used in errors only.
    pub fn parse(text: &str, path: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Malformed {
            path: path.into(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ManifestError::Invalid {
            path: path.into(),
            message,
        };
        if !is_plugin_name(&raw.name) {
            return Err(invalid(format!(
                "name {:?} must be 1-64 characters of a-z, 0-9 and '-'",
                raw.name
            )));
        }
        check_api_version(&raw.api).map_err(invalid)?;
        let mut capabilities = Vec::new();
        for name in &raw.capabilities {
            let capability: Capability =
                name.parse()
                    .map_err(|e: courier_config::capability::UnknownCapability| {
                        invalid(e.to_string())
                    })?;
            if !capability.allowed_in(raw.world) {
                return Err(invalid(format!(
                    "a {} plugin cannot have the `{capability}` capability; message types get no network or files",
                    raw.world
                )));
            }
            if !capabilities.contains(&capability) {
                capabilities.push(capability);
            }
        }
        Ok(Manifest {
            name: raw.name,
            version: raw.version,
            world: raw.world,
            capabilities,
        })
    }
}

/// Accepts an API version this host can load: same major, and for 0.x the same minor, not newer than ours.
fn check_api_version(api: &str) -> Result<(), String> {
    let parts: Vec<u64> = api
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("api {api:?} is not a version like \"0.1.0\""))?;
    let [major, minor, patch] = parts[..] else {
        return Err(format!("api {api:?} is not a version like \"0.1.0\""));
    };
    let (our_major, our_minor, our_patch) = API_VERSION;
    let compatible = major == our_major
        && (major != 0 || minor == our_minor)
        && (minor, patch) <= (our_minor, our_patch);
    if compatible {
        Ok(())
    } else {
        Err(format!(
            "plugin was built against courier:plugin@{api}, but this host speaks @{our_major}.{our_minor}.{our_patch}; rebuild the plugin against this host's plugin-api"
        ))
    }
}

impl HasKind for ManifestError {
    fn kind(&self) -> ErrorKind {
        match self {
            ManifestError::Read { .. } => ErrorKind::NotFound,
            ManifestError::Malformed { .. } | ManifestError::Invalid { .. } => {
                ErrorKind::InvalidInput
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "transport-lan"
version = "0.1.0"
world = "transport"
api = "0.1.0"
capabilities = ["tcp", "mdns", "log"]
"#;

    #[test]
    fn a_good_manifest_parses() {
        let m = Manifest::parse(GOOD, "lan.toml").unwrap();
        assert_eq!(m.world, World::Transport);
        assert_eq!(
            m.capabilities,
            vec![Capability::Tcp, Capability::Mdns, Capability::Log]
        );
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let cases = [
            (
                GOOD.replace("0.1.0\"\ncap", "0.2.0\"\ncap"),
                "rebuild the plugin",
            ),
            (
                GOOD.replace("\"mdns\"", "\"network\""),
                "unknown capability \"network\"",
            ),
            (
                GOOD.replace("transport-lan", "Bad Name"),
                "must be 1-64 characters",
            ),
            (
                GOOD.replace("world = \"transport\"", "world = \"message-type\""),
                "cannot have the `tcp` capability",
            ),
            (
                GOOD.replace("world = \"transport\"", "world = \"gadget\""),
                "unknown variant `gadget`",
            ),
            (format!("{GOOD}\nextra = 1"), "unknown field `extra`"),
            ("name = ".to_string(), "malformed"),
        ];
        for (text, expected) in cases {
            let err = Manifest::parse(&text, "p.toml").unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }
}
