//! The user's passphrase, held so that it is never printed and is wiped when dropped.

use zeroize::Zeroizing;

use crate::error::{MIN_PASSPHRASE_CHARS, StorageError};

/// The user's passphrase; wiped from memory when dropped, never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase; refuses an empty one.
    pub fn new(passphrase: String) -> Result<Passphrase, StorageError> {
        if passphrase.is_empty() {
            return Err(StorageError::EmptyPassphrase);
        }
        Ok(Passphrase(Zeroizing::new(passphrase)))
    }

    /// The passphrase itself, for the key derivations that need it.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }

    /// Wraps the passphrase a new database is made with; refuses one under
    /// [`MIN_PASSPHRASE_CHARS`] characters. (An existing database opens with whatever it was made
    /// with; a shorter one there is only a wrong passphrase.)
    pub fn for_new_database(passphrase: String) -> Result<Passphrase, StorageError> {
        let passphrase = Passphrase::new(passphrase)?;
        if passphrase.0.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(StorageError::ShortPassphrase);
        }
        Ok(passphrase)
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}
