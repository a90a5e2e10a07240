//! Which folder a role may use for what. A contact uploads to their inbox and fetches (lists,
//! downloads, deletes) from their outbox; the owner does the reverse for every contact. Anything
//! else is refused as "no such folder": a token learns nothing of folders it may not use.

use crate::registry::{FolderId, Registry, Role};

/// What a request does to a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Adds a file.
    Upload,
    /// Lists, downloads or deletes files.
    Fetch,
}

/// Whether `role` may `use_` `folder`.
pub fn may(registry: &Registry, role: &Role, folder: &FolderId, use_: Use) -> bool {
    let contacts = registry.contacts();
    match (role, use_) {
        (Role::Setup(_), _) => false,
        (Role::Owner, Use::Upload) => contacts.values().any(|c| c.outbox == *folder),
        (Role::Owner, Use::Fetch) => contacts.values().any(|c| c.inbox == *folder),
        (Role::Contact(id), use_) => contacts.get(id).is_some_and(|c| match use_ {
            Use::Upload => c.inbox == *folder,
            Use::Fetch => c.outbox == *folder,
        }),
    }
}

/// Every folder `role` fetches from: the owner every contact's inbox, a contact their outbox.
pub fn fetched_by(registry: &Registry, role: &Role) -> Vec<FolderId> {
    let contacts = registry.contacts();
    match role {
        Role::Setup(_) => Vec::new(),
        Role::Owner => contacts.values().map(|c| c.inbox.clone()).collect(),
        Role::Contact(id) => contacts
            .get(id)
            .map(|c| c.outbox.clone())
            .into_iter()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ContactId;
    use crate::token::Token;

    #[test]
    fn each_role_reaches_only_its_side_of_its_own_folders() {
        let dir = tempfile::tempdir().unwrap();
        let (mut registry, setup) = Registry::create(dir.path()).unwrap();
        let folder = |n: u8| FolderId::parse(&format!("{n:02x}").repeat(16)).unwrap();
        let contact = |n: u8| ContactId::parse(&format!("{n:02x}").repeat(16)).unwrap();
        registry
            .add_contact(contact(0xb), &Token::generate(), folder(1), folder(2))
            .unwrap();
        registry
            .add_contact(contact(0xc), &Token::generate(), folder(3), folder(4))
            .unwrap();
        let bob = Role::Contact(contact(0xb));
        let stranger = Role::Contact(contact(0xd));
        let cases = [
            (&bob, 1, Use::Upload, true),
            (&bob, 1, Use::Fetch, false),
            (&bob, 2, Use::Fetch, true),
            (&bob, 2, Use::Upload, false),
            (&bob, 3, Use::Upload, false),
            (&bob, 4, Use::Fetch, false),
            (&Role::Owner, 1, Use::Fetch, true),
            (&Role::Owner, 3, Use::Fetch, true),
            (&Role::Owner, 1, Use::Upload, false),
            (&Role::Owner, 4, Use::Upload, true),
            (&Role::Owner, 4, Use::Fetch, false),
            (&Role::Owner, 9, Use::Fetch, false),
            (&stranger, 1, Use::Upload, false),
            (&Role::Setup(setup), 1, Use::Fetch, false),
        ];
        for (role, n, use_, allowed) in cases {
            assert_eq!(
                may(&registry, role, &folder(n), use_),
                allowed,
                "{role:?} {n} {use_:?}"
            );
        }
        let mut owner = fetched_by(&registry, &Role::Owner);
        owner.sort();
        assert_eq!(owner, [folder(1), folder(3)], "every inbox");
        assert_eq!(fetched_by(&registry, &bob), [folder(2)], "bob's outbox");
        assert!(fetched_by(&registry, &stranger).is_empty());
        assert!(fetched_by(&registry, &Role::Setup(Token::generate())).is_empty());
    }
}
