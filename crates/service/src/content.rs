//! Message content through message-type plugins: what the user typed becomes a draft the plugin
//! prepared, in a version the contact reads, with a fallback text for a contact without the plugin;
//! and stored content becomes the one-line summary a list shows.

use courier_plugin_host::CallError;
use courier_plugin_host::message_plugin::MessageTypePlugin;
use courier_proto::sync::record::{ContentTypeRange, MAX_FALLBACK_LEN, Message};
use courier_proto::sync::relation::{self, RelationKind};
use courier_proto::sync::timer::{TIMER_TYPE, Timer};
use courier_storage::{Content, Direction, Draft, Payload};

use crate::error::damaged;
use crate::plugins::Plugins;

/// What the contact can read of a content type, as far as we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerSupport {
    /// They announced nothing yet: write our newest version.
    Unknown,
    /// They read this version, the newest we share.
    Version(u32),
    /// They have no plugin for the type, or none of our versions: they will see the fallback text.
    Lacking,
}

/// What the contact reads of `ours`, given every content type they announced.
pub fn peer_support(ours: &ContentTypeRange, announced: &[ContentTypeRange]) -> PeerSupport {
    if announced.is_empty() {
        return PeerSupport::Unknown;
    }
    announced
        .iter()
        .find(|t| t.content_type == ours.content_type)
        .and_then(|theirs| ours.best_common(theirs))
        .map_or(PeerSupport::Lacking, PeerSupport::Version)
}

/// Prepares `input` with the plugin of its content type, in the newest version the contact reads
/// (ours when they read none), with the plugin's summary as the fallback text.
pub fn compose(
    plugin: &mut MessageTypePlugin,
    input: &[u8],
    options: &[(String, String)],
    announced: &[ContentTypeRange],
) -> Result<(Draft, PeerSupport), CallError> {
    let description = plugin.description();
    let versions = description.versions;
    let content_type = description.content_type.clone();
    let ours = ContentTypeRange {
        content_type: content_type.clone(),
        min: versions.min,
        max: versions.max,
    };
    let support = peer_support(&ours, announced);
    let version = match support {
        PeerSupport::Version(v) => v,
        PeerSupport::Unknown | PeerSupport::Lacking => versions.max,
    };
    let payload = plugin.prepare(input, options, version)?;
    let summary = plugin.summary(&payload, version)?;
    // A text is its own fallback; sending it twice would only cost bytes.
    let fallback = if summary.as_bytes() == payload.as_slice() {
        String::new()
    } else {
        shorten(&summary, MAX_FALLBACK_LEN)
    };
    let draft = Draft {
        content_type,
        version,
        fallback,
        payload,
    };
    Ok((draft, support))
}

/// `text` cut to at most `max` bytes at a character boundary.
fn shorten(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// What a message's plugin reads of its `payload`: a relation's own body after the id of the
/// message it names (the host reads that), anything else whole; `None` for a relation too short
/// to name one.
pub(crate) fn own_body<'a>(content_type: &str, payload: &'a [u8]) -> Option<&'a [u8]> {
    match RelationKind::of(content_type) {
        Some(kind) => relation::read(kind, payload).ok().map(|r| r.body),
        None => Some(payload),
    }
}

/// What a stored reaction or edit shows: its own body where the kind's plugin is loaded and finds
/// it keeps the kind's rule (one emoji or a short word for a reaction, a clean text for an edit),
/// nothing where it breaks it (a bent peer's), and the sender's fallback line ("reacted 👍 to a
/// message", "edited: …") where no plugin of the kind is loaded: the host alone cannot hold the
/// body to a rule it does not know, so it shows what the sender's plugin wrote for such a reader.
pub(crate) fn relation_shown(plugins: &mut Plugins, message: &Message) -> Option<String> {
    let Some(Ok(relation)) = relation::relation_of(message) else {
        return None;
    };
    match plugins.message_type_if_loaded(&message.content_type) {
        Some(plugin) => match plugin.validate(relation.body, message.type_version) {
            Ok(()) => Some(String::from_utf8_lossy(relation.body).into_owned()),
            Err(_) => None,
        },
        None if message.fallback.is_empty() => None,
        None => Some(message.fallback.clone()),
    }
}

/// A one-line summary of stored content: the plugin's own when it is installed and can read the
/// payload, else the sender's fallback text, else the content type in brackets. (A summary parses
/// what it shows; the full `validate`, which may decode a whole image, runs before content is saved.)
pub fn summary(
    plugins: &mut Plugins,
    content: &Content,
    fallback: &str,
    direction: Direction,
) -> String {
    let shown = || {
        if fallback.is_empty() {
            format!("[{}]", content.content_type)
        } else {
            fallback.to_owned()
        }
    };
    match &content.payload {
        // The host's own: every build reads it.
        Payload::Complete(payload) if content.content_type == TIMER_TYPE => {
            match Timer::decode(payload) {
                Ok(Timer::OFF) => "disappearing messages: off".to_owned(),
                Ok(timer) => format!("disappearing messages: {timer} after reading"),
                Err(_) => shown(),
            }
        }
        Payload::Complete(payload) => plugins
            .message_type_if_loaded(&content.content_type)
            .and_then(|p| {
                p.summary(own_body(&content.content_type, payload)?, content.version)
                    .ok()
            })
            .unwrap_or_else(shown),
        Payload::Partial { received, total } => {
            format!("{} (receiving: {received} of {total} parts)", shown())
        }
        Payload::Damaged(_) => format!("{} ({})", shown(), damaged(direction)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(content_type: &str, min: u32, max: u32) -> ContentTypeRange {
        ContentTypeRange {
            content_type: content_type.into(),
            min,
            max,
        }
    }

    #[test]
    fn the_version_sent_is_the_newest_the_contact_reads() {
        let ours = range("courier/image", 1, 3);
        assert_eq!(peer_support(&ours, &[]), PeerSupport::Unknown);
        let announced = [range("courier/text", 1, 1), range("courier/image", 1, 2)];
        assert_eq!(peer_support(&ours, &announced), PeerSupport::Version(2));
        assert_eq!(
            peer_support(&ours, &[range("courier/text", 1, 1)]),
            PeerSupport::Lacking
        );
        assert_eq!(
            peer_support(&ours, &[range("courier/image", 4, 5)]),
            PeerSupport::Lacking
        );
    }

    #[test]
    fn fallback_texts_are_cut_at_a_character_boundary() {
        assert_eq!(shorten("héllo", 2), "h");
        assert_eq!(shorten("héllo", 3), "hé");
        assert_eq!(shorten("ok", 255), "ok");
    }
}
