//! FIX session layer: a sans-IO state machine per session, sequence recovery on the sequencer's
//! verdicts, the memory-mapped message store and QuickFIX-style settings.
//!
//! * [`Session`] — the state machine ([`session`]): feed it verdicts, timer ticks, sends and
//!   connection changes with the current time; it writes to a [`SessionOutput`] and delivers to
//!   an [`Application`].
//! * [`app`] — the [`Application`] trait and the built-in [`EchoApp`].
//! * [`dict`] — data-dictionary validation (FIX.4.2 / FIX.4.4 shipped).
//! * [`wire`] — header scan and allocation-free message encoder.
//! * [`store`], [`settings`] — message store and settings file.

pub mod app;
pub mod dict;
pub mod session;
pub mod settings;
pub mod store;
pub mod time;
pub mod wire;

pub use app::{Application, DeliverInfo, EchoApp, Responder};
pub use session::{
    DisconnectReason, Event, Role, SendError, SequencerOp, Session, SessionConfig, SessionOutput,
    State, DEFAULT_MAX_RESENDS_PER_SECOND, DEFAULT_MAX_RESEND_RANGE, MAX_SEQ_NUM,
};
pub use wire::BodyBuilder;
