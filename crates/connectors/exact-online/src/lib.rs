//! The Exact Online connector: `subscribe` reads any entity of the OData v2 REST API, every
//! page; `publish` creates, updates or deletes one entity.
//!
//! This crate holds the connector's catalog entry only ([`spec`]): the connection schema and
//! each module's parameter and output schemas. The runtime (authorization-code OAuth with
//! rotating refresh tokens kept in the state store, `Accept: application/json`, `__next`
//! paging, the 60-a-minute and daily rate limits) arrives with the Exact Online connector's
//! issue, on top of the HTTP layer of `flowrun-connect`. The API as we know it, with what is
//! UNSURE, is described in the project's `apis/exact-online.md`.

mod connection;
mod publish;
mod subscribe;

use flowrun_connect::schema::{input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};

pub use connection::ExactOnlineConnection;
pub use publish::{PublishAction, PublishOutput, PublishParams};
pub use subscribe::{ENTITY_PATTERN, Row, SubscribeParams};

/// The name in `uses: exact_online.<module>` and `connector: exact_online`.
pub const NAME: &str = "exact_online";

/// The catalog entry of the `exact_online` connector.
pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        name: NAME.to_owned(),
        description: "Exact Online, the accounting and ERP suite: read the rows of any entity \
                      with OData select, filter and order, every page, and create, update or \
                      delete entities."
            .to_owned(),
        connection_schema: input_schema::<ExactOnlineConnection>(),
        connection_optional: false,
        modules: vec![
            module::<SubscribeParams, Vec<Row>>(
                "subscribe",
                ModuleKind::Search,
                "Reads the rows of an entity (`crm/Accounts`, `sync/crm/Accounts`, ...) matching \
                 an OData filter, following every page; outputs the list of rows.",
            ),
            module::<PublishParams, PublishOutput>(
                "publish",
                ModuleKind::Action,
                "Creates, updates or deletes one entity; outputs the created entity, or `{ID}` \
                 after an update or delete.",
            ),
        ],
    }
}

#[cfg(test)]
mod tests;
