//! Where a contact stands.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a contact stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContactStateJson {
    /// The handshake ran.
    Contact,
    /// Added by link, not met yet.
    Pending,
    /// Not met in 48 hours: meet on a LAN, or remove and add again.
    Unmet,
}

impl ContactStateJson {
    /// The word the JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactStateJson::Contact => "contact",
            ContactStateJson::Pending => "pending",
            ContactStateJson::Unmet => "unmet",
        }
    }
}
