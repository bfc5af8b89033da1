//! The Exact Online connector: `subscribe` reads any entity of the OData v2 REST API, every
//! page; `publish` creates, updates or deletes one entity; the `modified` trigger polls an
//! entity by `Modified` for `flowrun serve` (`run/modified.rs`).
//!
//! [`spec`] is the catalog entry (the connection schema, each module's parameter and output
//! schemas); [`connector`] the runtime (`run/`), on the HTTP layer of `flowrun-connect`: the
//! authorization-code grant with rotating refresh tokens kept in the state store
//! (`flowrun auth login`), `Accept: application/json`, `__next` paging, and the minutely and
//! daily budgets Exact announces in its headers. The API as we know it, with what is UNSURE,
//! is described in the project's `apis/exact-online.md`.

mod api_call;
mod connection;
mod me;
mod modified;
mod publish;
mod run;
mod subscribe;

use std::sync::Arc;

use flowrun_connect::module::Connector;
use flowrun_connect::schema::{NoParams, input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};

pub use api_call::{API_PATH_PATTERN, ApiCallOutput, ApiCallParams, ApiMethod};
pub use connection::ExactOnlineConnection;
pub use me::Me;
pub use modified::{ModifiedEvent, ModifiedParams};
pub use publish::{PublishAction, PublishOutput, PublishParams};
pub use subscribe::{ENTITY_PATTERN, Row, SubscribeParams};

/// The name in `uses: exact_online.<module>` and `connector: exact_online`.
pub const NAME: &str = "exact_online";

/// The runtime of the `exact_online` connector, for the registry.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(run::ExactConnector::default())
}

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
            module::<NoParams, Me>(
                "me",
                ModuleKind::Get,
                "Reads the user the connection acts as, with the current division.",
            ),
            module::<ModifiedParams, ModifiedEvent>(
                "modified",
                ModuleKind::Trigger,
                "Starts a run for each row of an entity created or changed (by its `Modified`), \
                 asking every `interval` (`flowrun serve`); the event is `{entity, id, record}`.",
            ),
            module::<ApiCallParams, ApiCallOutput>(
                "api_call",
                ModuleKind::ApiCall,
                "Sends any request below the division (or the API root), with the connection's \
                 tokens and rate limits; outputs the status and the unwrapped body.",
            ),
        ],
    }
}

#[cfg(test)]
mod tests;
