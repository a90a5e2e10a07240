//! The shape every transport has: a description and a state machine made from settings, fed one
//! event at a time. Implement [`Driver`] and export [`Exports`] of it; the session resource and its
//! interior mutability are written once, here.
//!
//! ```ignore
//! struct Pigeon { /* state */ }
//! impl courier_plugin::driver::Driver for Pigeon { /* describe, new, handle */ }
//! type Plugin = courier_plugin::driver::Exports<Pigeon>;
//! courier_plugin::export_transport!(Plugin);
//! ```

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::transport::courier::plugin::transport_types::{Action, Description, Event};
use crate::transport::courier::plugin::types::{PluginError, Setting};
use crate::transport::exports::courier::plugin::driver::{Guest, GuestSession, Session};

/// A transport's state machine. The host calls it from one thread, one event at a time.
pub trait Driver: Sized + 'static {
    /// What the transport is: read once when the plugin loads.
    fn describe() -> Description;
    /// The state machine for the settings of its config section; an unknown key or a bad value is
    /// refused here, naming it.
    fn new(settings: &[Setting]) -> Result<Self, PluginError>;
    /// Feeds one event; the actions it causes, in order. Capability calls (`tcp::connect`, …) are
    /// made from here and answer with later events.
    fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError>;
}

/// The `transport` world's exports for a [`Driver`].
pub struct Exports<T>(PhantomData<T>);

/// The session resource the host holds for one [`Driver`].
pub struct SessionOf<T>(RefCell<T>);

impl<T: Driver> Guest for Exports<T> {
    type Session = SessionOf<T>;

    fn describe() -> Description {
        T::describe()
    }
}

impl<T: Driver> GuestSession for SessionOf<T> {
    fn create(settings: Vec<Setting>) -> Result<Session, PluginError> {
        Ok(Session::new(SessionOf(RefCell::new(T::new(&settings)?))))
    }

    fn handle(&self, event: Event) -> Result<Vec<Action>, PluginError> {
        // The host never calls in again while a call is running, so the borrow cannot clash.
        self.0.borrow_mut().handle(event)
    }
}
