//! `plugins new`: a plugin crate written from the SDK's templates, ready to build out of the tree.

use std::path::{Path, PathBuf};

use courier_plugin_host::manifest::World;

use crate::error::ServiceError;

/// One template file: where it goes in the new crate, and its text with `{{…}}` placeholders.
type TemplateFile = (&'static str, &'static str);

const MESSAGE_TYPE: [TemplateFile; 3] = [
    (
        "Cargo.toml",
        include_str!("../../../plugin-api/templates/message-type/Cargo.toml.template"),
    ),
    (
        "plugin.toml",
        include_str!("../../../plugin-api/templates/message-type/plugin.toml.template"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugin-api/templates/message-type/src/lib.rs.template"),
    ),
];

const TRANSPORT: [TemplateFile; 3] = [
    (
        "Cargo.toml",
        include_str!("../../../plugin-api/templates/transport/Cargo.toml.template"),
    ),
    (
        "plugin.toml",
        include_str!("../../../plugin-api/templates/transport/plugin.toml.template"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugin-api/templates/transport/src/lib.rs.template"),
    ),
];

/// Longest transport id the host accepts (a new transport's id is its name).
const MAX_TRANSPORT_ID: usize = 32;

/// What [`new_plugin`] writes.
#[derive(Debug, Clone)]
pub struct NewPlugin<'a> {
    /// Its world.
    pub world: World,
    /// Its name: the crate's, the manifest's, and the installed `NAME.wasm`'s.
    pub name: &'a str,
    /// For a message type, its content type (default `example/NAME`).
    pub content_type: Option<&'a str>,
    /// The SDK crate (`plugin-api` in a Courier checkout) the new crate depends on.
    pub sdk: &'a Path,
}

/// Writes a new plugin crate into `parent/NAME` from the template of its world; the folder made.
pub fn new_plugin(plugin: &NewPlugin<'_>, parent: &Path) -> Result<PathBuf, ServiceError> {
    let refuse = |m: String| ServiceError::NewPlugin(m);
    let name = plugin.name;
    if !courier_plugin_host::manifest::is_plugin_name(name)
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err(refuse(format!(
            "{name:?} is no plugin name: 1-64 characters of a-z, 0-9 and '-', starting with a letter"
        )));
    }
    if plugin.world == World::Transport && name.len() > MAX_TRANSPORT_ID {
        return Err(refuse(format!(
            "a transport's name is its id, at most {MAX_TRANSPORT_ID} characters; {name:?} is longer"
        )));
    }
    let default_type = format!("example/{name}");
    let content_type = plugin.content_type.unwrap_or(&default_type);
    if !courier_plugin_host::message_plugin::is_content_type(content_type) {
        return Err(refuse(format!(
            "content type {content_type:?} is not `kind/name`, each 1-64 characters of a-z, 0-9 and '-'"
        )));
    }
    let sdk = plugin
        .sdk
        .canonicalize()
        .ok()
        .filter(|p| p.join("wit").is_dir() && p.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            refuse(format!(
                "{} is not the plugin SDK; give --sdk the plugin-api folder of a Courier checkout",
                plugin.sdk.display()
            ))
        })?;
    let folder = parent.join(name);
    if folder.exists() {
        return Err(refuse(format!(
            "{} already exists; nothing was written",
            folder.display()
        )));
    }
    let files = match plugin.world {
        World::MessageType => &MESSAGE_TYPE,
        World::Transport => &TRANSPORT,
    };
    let failed = |source| ServiceError::PluginFile {
        path: folder.clone(),
        source,
    };
    for (path, template) in files {
        let text = template
            .replace("{{name}}", name)
            .replace("{{id}}", name)
            .replace("{{content_type}}", content_type)
            .replace("{{sdk}}", &sdk.display().to_string());
        let target = folder.join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        std::fs::write(&target, text).map_err(failed)?;
    }
    std::fs::write(folder.join(".gitignore"), "/target\n").map_err(failed)?;
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-api")
    }

    #[test]
    fn a_message_type_is_written_with_its_name_content_type_and_the_sdk_path_filled_in() {
        let parent = tempfile::tempdir().unwrap();
        let new = NewPlugin {
            world: World::MessageType,
            name: "shopping-list",
            content_type: Some("acme/shopping-list"),
            sdk: &sdk(),
        };
        let folder = new_plugin(&new, parent.path()).unwrap();
        let cargo = std::fs::read_to_string(folder.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"shopping-list\""), "{cargo}");
        let sdk = sdk().canonicalize().unwrap();
        assert!(
            cargo.contains(&format!("path = \"{}\"", sdk.display())),
            "{cargo}"
        );
        let lib = std::fs::read_to_string(folder.join("src/lib.rs")).unwrap();
        assert!(lib.contains("const NAME: &'static str = \"acme/shopping-list\";"));
        for (_, template) in MESSAGE_TYPE.iter().chain(&TRANSPORT) {
            assert!(template.contains("{{"), "every template has a placeholder");
        }
        for file in ["Cargo.toml", "plugin.toml", "src/lib.rs"] {
            let text = std::fs::read_to_string(folder.join(file)).unwrap();
            assert!(!text.contains("{{"), "{file} has a placeholder left");
        }
        let manifest = courier_plugin_host::manifest::Manifest::read(&folder.join("plugin.toml"));
        assert_eq!(manifest.unwrap().name, "shopping-list");
        let again = new_plugin(&new, parent.path()).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
    }

    #[test]
    fn bad_names_content_types_and_sdks_are_refused_before_anything_is_written() {
        let parent = tempfile::tempdir().unwrap();
        let sdk = sdk();
        let try_new = |world, name, content_type, sdk: &Path| {
            new_plugin(
                &NewPlugin {
                    world,
                    name,
                    content_type,
                    sdk,
                },
                parent.path(),
            )
            .unwrap_err()
            .to_string()
        };
        assert!(try_new(World::MessageType, "Poll", None, &sdk).contains("no plugin name"));
        assert!(
            try_new(World::MessageType, "1poll", None, &sdk).contains("starting with a letter")
        );
        assert!(try_new(World::MessageType, "poll", Some("Poll"), &sdk).contains("kind/name"));
        let long = "t".repeat(33);
        assert!(try_new(World::Transport, &long, None, &sdk).contains("at most 32"));
        assert!(try_new(World::Transport, "pigeon", None, parent.path()).contains("--sdk"));
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}
