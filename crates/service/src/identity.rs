//! The user's own identity: made once per data directory, and the link that gives it to contacts.

use courier_proto::contact_link::ContactLink;
use courier_proto::identity::Identity;
use courier_storage::StorageError;

use crate::Service;
use crate::error::ServiceError;

/// `name` without surrounding spaces if it is fit to be the user's name, checked before a front end
/// asks for a passphrase or makes a directory.
pub fn check_name(name: &str) -> Result<&str, ServiceError> {
    courier_storage::check_name(name).map_err(ServiceError::Name)
}

impl Service {
    /// Creates the identity called `name` (the database must have none) and returns its link.
    pub fn init(&mut self, name: &str) -> Result<ContactLink, ServiceError> {
        let identity = Identity::generate(check_name(name)?);
        self.db.create_identity(&identity)?;
        Ok(identity.link())
    }

    /// The link to give contacts.
    pub fn link(&self) -> Result<ContactLink, ServiceError> {
        Ok(self.identity()?.link())
    }

    /// The name the user goes by.
    pub fn name(&self) -> Result<String, ServiceError> {
        Ok(self.identity()?.name().to_owned())
    }

    pub(crate) fn identity(&self) -> Result<Identity, ServiceError> {
        Ok(self.db.identity()?.ok_or(StorageError::NoIdentity)?)
    }
}
