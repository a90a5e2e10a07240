//! Message content through message-type plugins: what the user typed becomes a body the plugin
//! prepared, and a stored body becomes the one-line summary a list shows.

use crate::plugin::PluginHost;
use crate::plugin::instance::CallError;
use crate::sync::record::Message;

/// A body ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// Content type, e.g. `courier/text`.
    pub content_type: String,
    /// Version of the type the body is written in.
    pub version: u32,
    /// The prepared body.
    pub body: Vec<u8>,
}

/// Why content could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// No loaded plugin handles the content type.
    #[error(
        "no message-type plugin for {0} is loaded; check [message_types] in the config and the plugin directory"
    )]
    NoPlugin(String),
    /// The plugin refused the input or failed.
    #[error(transparent)]
    Plugin(#[from] CallError),
}

/// Prepares `input` as `content_type` with the plugin for it, in the newest version it writes.
pub fn compose(
    plugins: &mut PluginHost,
    content_type: &str,
    input: &[u8],
    options: &[(String, String)],
) -> Result<Composed, ContentError> {
    let plugin = plugins
        .message_type(content_type)
        .ok_or_else(|| ContentError::NoPlugin(content_type.to_owned()))?;
    let version = plugin.description().versions.max;
    let body = plugin.prepare(input, options, version)?;
    Ok(Composed {
        content_type: content_type.to_owned(),
        version,
        body,
    })
}

/// A one-line summary of `message`: the plugin's, or the content type in brackets when no plugin
/// can read it.
pub fn summary(plugins: &mut PluginHost, message: &Message) -> String {
    plugins
        .message_type(&message.content_type)
        .and_then(|p| p.summary(&message.body, message.type_version).ok())
        .unwrap_or_else(|| format!("[{}]", message.content_type))
}
