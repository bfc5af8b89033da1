//! The Exact Online REST API under `/exact`, as `apis/exact-online.md` (shared docs)
//! describes it: OAuth 2.0 authorization code with 10-minute access tokens and rotating
//! refresh tokens, OData v2 verbose JSON per division (`/api/v1/{division}/…`) with
//! `$select/$filter/$orderby/$top/$skip/$inlinecount/$expand`, 60-row pages with absolute
//! `__next` links, bulk and sync endpoints, writes with Exact's validation messages, rate
//! limits with the six `X-RateLimit-*` headers, and webhooks. See `docs/sandbox.md`
//! ("Exact Online") for the routes and every guess marked UNSURE.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::{SandboxState, lock};

mod filter;
mod lexer;
mod limits;
mod model;
mod oauth;
mod query;
mod read;
mod reply;
mod routes;
mod seed;
mod store;
mod validate;
mod webhooks;
mod write;

pub use webhooks::WebhookDelivery;

use model::{Entity, View};
use store::Division;

/// Where the simulator is nested: the connector's `base_uri` is `{sandbox}/exact`.
pub const PREFIX: &str = "/exact";
/// The token realm in the shared token store.
const REALM: &str = "exact";

/// The one registered app.
pub const CLIENT_ID: &str = "6f1c2a9e-3d4b-4e8f-9a10-b2c3d4e5f601";
pub const CLIENT_SECRET: &str = "exact-client-secret";
/// The app's webhook secret: the key of every notification's `HashCode`.
pub const WEBHOOK_SECRET: &str = "exact-webhook-secret";
/// The user who approves on the consent page (shown there; the page has no login form).
pub const USERNAME: &str = "jan.demo@flowrun.example";
pub const PASSWORD: &str = "exact-demo";
/// The user's current division.
pub const DIVISION: u64 = 123_456;
/// A second division of the user, with less data and its own rate-limit budget.
pub const OTHER_DIVISION: u64 = 234_567;
/// A division that exists but is not the user's: 403.
pub const FORBIDDEN_DIVISION: u64 = 999_999;
/// The divisions the user may use.
const USER_DIVISIONS: [u64; 2] = [DIVISION, OTHER_DIVISION];
/// The user's id (`Me.UserID`, `DeletedBy`).
const USER_ID: &str = "0b6f3c9d-8a2e-4d1f-b7c5-e4a3f2d1c0b9";
/// Largest request body, as Exact documents it.
const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// The simulator's switches; every field has a default, so JSON may give any subset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExactSettings {
    /// Access token lifetime in seconds of sandbox time; sent as the string `expires_in`.
    pub token_lifetime_secs: u64,
    /// Refuse (400 `invalid_request`) a refresh less than `token_lifetime_secs - 30` s
    /// after the previous token was issued.
    pub strict_early_refresh: bool,
    /// Refresh tokens unused this long (sandbox days) are refused.
    pub refresh_token_lifetime_days: u64,
    pub code_lifetime_secs: u64,
    /// Calls per minute window, per client and division.
    pub minutely_limit: u64,
    /// Length of a "minute" in real milliseconds (tests shorten it).
    pub minute_window_ms: u64,
    /// Calls per UTC day, per client and division.
    pub daily_limit: u64,
    /// Whether a 429 carries `Retry-After` (seconds).
    pub retry_after: bool,
    /// Without `Accept: application/json`, answer Atom/XML (Exact's default).
    pub require_json_accept: bool,
    /// Rows per page on regular endpoints.
    pub page_size: usize,
    /// Rows per page on bulk and sync endpoints.
    pub bulk_page_size: usize,
    /// Seed sizes of the current division (the other division gets a fifth); a change
    /// regenerates the data.
    pub accounts: usize,
    pub contacts: usize,
    pub items: usize,
    pub sales_orders: usize,
    pub gl_accounts: usize,
}

impl Default for ExactSettings {
    fn default() -> Self {
        Self {
            token_lifetime_secs: 600,
            strict_early_refresh: false,
            refresh_token_lifetime_days: 30,
            code_lifetime_secs: 180,
            minutely_limit: 60,
            minute_window_ms: 60_000,
            daily_limit: 5000,
            // UNSURE (apis/exact-online.md): Exact documents only the X-RateLimit headers.
            retry_after: false,
            require_json_accept: true,
            page_size: 60,
            bulk_page_size: 1000,
            accounts: 250,
            contacts: 400,
            items: 120,
            sales_orders: 150,
            gl_accounts: 80,
        }
    }
}

impl ExactSettings {
    fn sizes(&self, division: u64) -> seed::Sizes {
        let scale = |n: usize| if division == DIVISION { n } else { n.div_ceil(5) };
        seed::Sizes {
            accounts: scale(self.accounts),
            contacts: scale(self.contacts),
            items: scale(self.items),
            sales_orders: scale(self.sales_orders),
            gl_accounts: scale(self.gl_accounts),
        }
    }
}

/// Rows per entity in [`DIVISION`], and counters since the last reset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactCounts {
    pub accounts: usize,
    pub contacts: usize,
    pub items: usize,
    pub sales_orders: usize,
    pub sales_order_lines: usize,
    pub gl_accounts: usize,
    /// Rows of `sync/Deleted`.
    pub deleted: usize,
    /// 429 answers sent.
    pub rate_limited: u64,
    /// Successful `refresh_token` grants.
    pub token_refreshes: u64,
    /// Refresh tokens refused: reused (rotated away), expired or unknown.
    pub refused_refresh_tokens: u64,
    /// Refreshes refused by `strict_early_refresh`.
    pub early_refreshes: u64,
    /// Authenticated division-scoped requests per division (429s included).
    pub requests: BTreeMap<u64, u64>,
}

#[derive(Default)]
struct Inner {
    settings: ExactSettings,
    /// Generated on first use, again after a size change or a reset.
    divisions: Option<BTreeMap<u64, Division>>,
    limits: limits::Limits,
    refresh: HashMap<String, oauth::RefreshEntry>,
    counts: ExactCounts,
    subscriptions: Vec<webhooks::Subscription>,
}

/// The simulator's part of the sandbox state.
pub struct Exact {
    inner: Mutex<Inner>,
    /// Wall-clock epoch ms at sandbox start: record stamps are this plus sandbox time, so
    /// advancing the clock moves `Modified` too.
    started_ms: i64,
    pub webhooks: webhooks::Deliveries,
}

impl Default for Exact {
    fn default() -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        Self {
            inner: Mutex::new(Inner::default()),
            started_ms: i64::try_from(started).unwrap_or(0),
            webhooks: webhooks::Deliveries::default(),
        }
    }
}

impl Exact {
    pub fn settings(&self) -> ExactSettings {
        lock(&self.inner).settings.clone()
    }

    /// Replaces the settings; different seed sizes drop the data (changes included).
    pub fn set_settings(&self, settings: ExactSettings) {
        let mut inner = lock(&self.inner);
        if (0..2).any(|i| inner.settings.sizes(USER_DIVISIONS[i]) != settings.sizes(USER_DIVISIONS[i])) {
            inner.divisions = None;
        }
        inner.settings = settings;
    }

    /// Fresh seed data, budgets, counters and subscriptions; settings and tokens stay.
    pub fn reset(&self) {
        let mut inner = lock(&self.inner);
        inner.divisions = None;
        inner.limits = limits::Limits::default();
        inner.counts = ExactCounts::default();
        inner.subscriptions.clear();
        drop(inner);
        self.webhooks.clear();
    }

    /// Epoch ms of "now" for record stamps.
    fn now_ms(&self, clock: Duration) -> i64 {
        self.started_ms + i64::try_from(clock.as_millis()).unwrap_or(0)
    }

    /// Runs `f` on the state, generating the data first when needed.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = lock(&self.inner);
        if inner.divisions.is_none() {
            let divisions = USER_DIVISIONS
                .iter()
                .map(|&d| (d, seed::generate(d, inner.settings.sizes(d))))
                .collect();
            inner.divisions = Some(divisions);
        }
        f(&mut inner)
    }

    /// Runs `f` on one of the user's divisions (which always exist once generated).
    fn with_division<R>(&self, number: u64, f: impl FnOnce(&mut Division, &ExactSettings) -> R) -> R {
        self.with(|inner| {
            let Inner {
                divisions, settings, ..
            } = inner;
            let division = divisions
                .as_mut()
                .and_then(|d| d.get_mut(&number))
                .unwrap_or_else(|| panic!("division {number} is not generated"));
            f(division, settings)
        })
    }

    /// Counts one authenticated call of `client` in `division` and spends its budget.
    fn spend(&self, client: &str, division: u64) -> limits::Verdict {
        let mut inner = lock(&self.inner);
        let s = &inner.settings;
        let config = (s.minutely_limit, s.minute_window_ms, s.daily_limit);
        *inner.counts.requests.entry(division).or_default() += 1;
        let verdict = inner.limits.spend(client, division, limits::wall_ms(), config);
        if verdict.refused_for_ms.is_some() {
            inner.counts.rate_limited += 1;
        }
        verdict
    }

    pub fn counts(&self) -> ExactCounts {
        self.with(|inner| {
            let mut counts = inner.counts.clone();
            if let Some(division) = inner.divisions.as_ref().and_then(|d| d.get(&DIVISION)) {
                let n = |e: Entity| store::count(division, e);
                counts.accounts = n(Entity::Accounts);
                counts.contacts = n(Entity::Contacts);
                counts.items = n(Entity::Items);
                counts.sales_orders = n(Entity::SalesOrders);
                counts.sales_order_lines = n(Entity::SalesOrderLines);
                counts.gl_accounts = n(Entity::GLAccounts);
                counts.deleted = n(Entity::Deleted);
            }
            counts
        })
    }

    pub fn generate_accounts(&self, clock: Duration, n: usize) -> Vec<String> {
        let now = self.now_ms(clock);
        self.with_division(DIVISION, |division, _| {
            let stamp = division.stamp(now);
            (0..n).map(|_| seed::extra_account(division, stamp)).collect()
        })
    }

    /// Stamps these accounts as changed now (one stamp for all); unknown ids are skipped.
    pub fn touch_accounts(&self, clock: Duration, ids: &[String]) {
        let now = self.now_ms(clock);
        self.with_division(DIVISION, |division, _| {
            let stamp = division.stamp(now);
            for id in ids {
                division.touch(Entity::Accounts, &id.to_ascii_lowercase(), stamp);
            }
        });
    }

    pub fn account_ids(&self) -> Vec<String> {
        self.with_division(DIVISION, |division, _| {
            division.table(Entity::Accounts).rows.keys().cloned().collect()
        })
    }

    /// One row of [`DIVISION`] as the API shows it: `entity` is `crm/Accounts`, or
    /// `sync/crm/Accounts` for the sync view (with `Timestamp`).
    pub fn find(&self, base_url: &str, entity: &str, id: &str) -> Option<Value> {
        let (view, path) = match entity.split_once('/') {
            Some((first, rest)) if first.eq_ignore_ascii_case("sync") => (View::Sync, rest),
            Some((first, rest)) if first.eq_ignore_ascii_case("bulk") => (View::Bulk, rest),
            _ => (View::Regular, entity),
        };
        let entity = match path.split_once('/') {
            Some((service, name)) => Entity::lookup(service, name)?,
            None if path.eq_ignore_ascii_case("Deleted") && view == View::Sync => Entity::Deleted,
            None => return None,
        };
        let api = format!("{base_url}{PREFIX}/api/v1/{DIVISION}");
        self.with_division(DIVISION, |division, _| {
            let row = division.row(entity, id)?;
            Some(read::row_json(
                division,
                entity,
                row,
                view,
                &read::Shape::full(entity, view),
                &api,
            ))
        })
    }
}

/// The simulator's routes, relative to [`PREFIX`].
pub fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/api/oauth2/auth", get(oauth::authorize))
        .route("/api/oauth2/approve", get(oauth::approve))
        .route("/api/oauth2/deny", get(oauth::deny))
        .route("/api/oauth2/token", post(oauth::token))
        .route("/api/v1/current/Me", get(routes::me))
        .route("/api/v1/{division}/{*rest}", any(routes::division))
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
