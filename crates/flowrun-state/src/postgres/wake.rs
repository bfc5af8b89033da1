//! Wake-ups of idle `flowrun serve` workers on Postgres: `LISTEN` / `NOTIFY flowrun_queue`.
//!
//! - Waiters of this process are woken at once through a `Notify`. Its permit is kept when
//!   nobody waits, so a wake-up that comes between two waits is not lost.
//! - Other processes hear `NOTIFY flowrun_queue`. Hand-backs and requeues notify inside their
//!   transaction (delivered at commit). Enqueues notify after their commit, from a task, at
//!   most once per [`NOTIFY_EVERY`] per store: Postgres serializes the commits of notifying
//!   transactions on one global lock, so a `NOTIFY` inside every webhook's insert would make
//!   each delivery wait for the others. The throttle has a trailing edge: an enqueue that
//!   commits while a notification is scheduled and not sent yet is covered by it (it goes out
//!   after that commit); otherwise the enqueue schedules one. So every enqueue is followed by a
//!   `NOTIFY` sent after its commit.
//! - Each store listens on a connection of its pool, from its first wait on. The task
//!   reconnects after errors (waking the waiters: notifications may have been missed) and ends
//!   when the last clone of the store is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{Notify, watch};

/// The channel of queue wake-ups.
pub(super) const CHANNEL: &str = "flowrun_queue";

/// The shortest time between two `NOTIFY`s a store sends after enqueues.
const NOTIFY_EVERY: Duration = Duration::from_millis(10);

/// How long the listening task waits before connecting again after an error.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// Wakes this store's waiters when any process makes a run claimable.
#[derive(Debug)]
pub(super) struct QueueSignal {
    notify: Arc<Notify>,
    /// Set when the listening task starts (once per store).
    listening: OnceLock<()>,
    /// A `NOTIFY` after enqueues is scheduled and not sent yet.
    pending: AtomicBool,
    /// When the last `NOTIFY` after enqueues went out, in ms since `started`.
    last_sent_ms: AtomicU64,
    started: Instant,
    /// Never sent on: dropped with the last clone of the store, which ends the listening task.
    alive: watch::Sender<()>,
}

impl QueueSignal {
    pub(super) fn new() -> QueueSignal {
        QueueSignal {
            notify: Arc::new(Notify::new()),
            listening: OnceLock::new(),
            pending: AtomicBool::new(false),
            last_sent_ms: AtomicU64::new(0),
            started: Instant::now(),
            alive: watch::Sender::new(()),
        }
    }

    /// Wakes one waiter of this process (a claimer passes the wake-up on this way).
    pub(super) fn wake_local(&self) {
        self.notify.notify_one();
    }

    /// Returns when woken, or after `timeout`; starts listening on the first call.
    pub(super) async fn wait(&self, pool: &PgPool, timeout: Duration) {
        self.start_listening(pool);
        // One waiter is woken per signal: a worker that claims a run wakes the next one, so
        // idle workers join one by one while there is work, instead of every worker of every
        // process racing for each run.
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }

    /// After an enqueue committed: wakes a waiter here at once, and schedules a `NOTIFY` for
    /// the other processes unless one is scheduled already (see the module docs).
    pub(super) fn after_enqueue(self: &Arc<Self>, pool: &PgPool) {
        self.wake_local();
        if self.pending.swap(true, Ordering::SeqCst) {
            // Scheduled and not sent yet: it goes out after our commit.
            return;
        }
        let since_last = Duration::from_millis(
            self.elapsed_ms()
                .saturating_sub(self.last_sent_ms.load(Ordering::SeqCst)),
        );
        let wait = NOTIFY_EVERY.saturating_sub(since_last);
        let pending = PendingNotify(Arc::clone(self));
        let pool = pool.clone();
        tokio::spawn(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let signal = Arc::clone(&pending.0);
            // Cleared before sending: an enqueue that commits from now on schedules its own.
            drop(pending);
            signal.last_sent_ms.store(signal.elapsed_ms(), Ordering::SeqCst);
            if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&pool)
                .await
            {
                tracing::debug!(%error, "NOTIFY flowrun_queue failed; idle workers poll");
            }
        });
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Starts, once per store, the task that listens on `flowrun_queue` and wakes waiters.
    fn start_listening(&self, pool: &PgPool) {
        if self.listening.set(()).is_err() {
            return;
        }
        let pool = pool.clone();
        let notify = Arc::clone(&self.notify);
        let mut alive = self.alive.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = listen(&pool, &notify) => {}
                // `changed` fails once the sender (the store) is gone; nothing is ever sent.
                _ = alive.changed() => {}
            }
        });
    }
}

/// Clears `pending` when dropped: after the wait of a scheduled `NOTIFY`, or when its task is
/// dropped (a runtime shutting down), so a lost task never blocks the next ones.
struct PendingNotify(Arc<QueueSignal>);

impl Drop for PendingNotify {
    fn drop(&mut self) {
        self.0.pending.store(false, Ordering::SeqCst);
    }
}

/// Listens until the task is dropped, reconnecting after errors. If it cannot listen, waits
/// simply time out (callers poll).
async fn listen(pool: &PgPool, notify: &Notify) {
    let mut first = true;
    loop {
        match PgListener::connect_with(pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    if !first {
                        // Notifications sent while we were not listening are lost.
                        notify.notify_one();
                    }
                    first = false;
                    receive(&mut listener, pool, notify).await;
                }
                Err(error) => tracing::warn!(%error, "cannot LISTEN for queued runs; idle workers poll"),
            },
            Err(error) => tracing::warn!(%error, "cannot LISTEN for queued runs; idle workers poll"),
        }
        if pool.is_closed() {
            return;
        }
        tokio::time::sleep(RELISTEN_AFTER).await;
    }
}

/// Wakes a waiter per notification until the connection fails for good.
async fn receive(listener: &mut PgListener, pool: &PgPool, notify: &Notify) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => notify.notify_one(),
            // The connection was lost and made again (sqlx listens again by itself): what was
            // sent meanwhile is lost, so the waiters look at the queue.
            Ok(None) => notify.notify_one(),
            Err(error) => {
                // A closed store ends here too, and says nothing.
                if !pool.is_closed() {
                    tracing::warn!(%error, "lost the LISTEN connection for queued runs; reconnecting");
                }
                return;
            }
        }
    }
}
