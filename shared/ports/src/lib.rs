//! Ports: one narrow trait per capability the core needs. Each has an embedded implementation (`cpms
//! serve`) and an AWS one, and both must pass the [`contract`] suite.

pub mod alert_records;
pub mod clock;
#[cfg(feature = "contract-tests")]
pub mod contract;
pub mod delivery;
pub mod documents;
pub mod gateway;
pub mod notify;
pub mod partner_client;
pub mod records;
pub mod registry;
pub mod roaming_records;
pub mod store;

pub use clock::{Clock, SystemClock};
pub use delivery::{Delivery, Receipt};
pub use documents::{
    Doc, DocQuery, DocWrite, DocumentStore, Documents, INDEX_SLOTS, IndexKey, Listing, Record,
};
pub use gateway::{ChargerGateway, GatewayError};
pub use notify::{NoNotifier, Notifier, NotifyError};
pub use partner_client::{PartnerClient, PartnerError, PartnerReply, PartnerRequest};
pub use registry::{ConnectionInfo, ConnectionRegistry};
pub use store::{
    AttemptStore, ChargerStore, EventPublisher, Expected, LogStore, Page, PageRequest,
    SessionFilter, SessionStore, SessionWrite, StoreError, TokenStore, Versioned,
};
