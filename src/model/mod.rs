//! Plain data shared by every stage: frames off the wire, normalised events and field names.
//!
//! Nothing here does I/O or depends on another module of the crate, so every stage may use it.

pub mod alert;
pub mod cidr;
pub mod clock;
pub mod event;
pub mod fields;
pub mod frame;
pub mod invalid;
pub mod port;
pub mod secret;
pub mod user;

pub use event::{Event, FieldValue, MessageText};
pub use frame::{Checkpoint, Frame, ListenerId, Transport};
pub use invalid::Invalid;
pub use secret::Secret;
