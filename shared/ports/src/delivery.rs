//! An event handed to a consumer that must say when it is done with it: the event stays with its source
//! (the embedded outbox, a table stream, a queue) until every consumer it went to has settled it, so a
//! crash between hand-over and the consumer's commit loses nothing. A delivery dropped without
//! [`Delivery::done`] (the consumer failed, gave up or panicked) is delivered again later.

use cpms_domain::events::DomainEvent;

/// How a source learns that a consumer settled an event.
pub trait Receipt: Send {
    /// `done`: the consumer is finished with it; otherwise it is to be delivered again.
    fn settle(self: Box<Self>, done: bool);
}

/// One event for one consumer.
pub struct Delivery {
    /// The event.
    pub event: DomainEvent,
    receipt: Option<Box<dyn Receipt>>,
}

impl Delivery {
    /// An event whose settlement goes to `receipt`.
    pub fn new(event: DomainEvent, receipt: Box<dyn Receipt>) -> Self {
        Delivery {
            event,
            receipt: Some(receipt),
        }
    }

    /// An event nobody waits for (tests, tools).
    pub fn unreceipted(event: DomainEvent) -> Self {
        Delivery {
            event,
            receipt: None,
        }
    }

    /// The consumer has committed what the event implies (or it implies nothing): the source may forget it.
    pub fn done(mut self) {
        if let Some(r) = self.receipt.take() {
            r.settle(true);
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(r) = self.receipt.take() {
            r.settle(false);
        }
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event.id)
            .finish()
    }
}
