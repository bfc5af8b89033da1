//! The minutely and daily budgets Exact announces: waited out, never overrun.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::*;

#[tokio::test]
async fn the_minutely_limit_is_waited_out_without_a_single_429() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let mut settings = control.exact_settings();
    settings.minutely_limit = 5;
    settings.minute_window_ms = 1_500;
    control.set_exact_settings(settings);
    let context = logged_in(&sandbox).await;

    // 14 reads, four at a time, against 5 a "minute": at least two resets to wait for.
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..14)
        .map(|_| {
            call(
                &context,
                "exact_online.subscribe",
                json!({ "entity": "logistics/Items", "limit": 1 }),
            )
        })
        .buffer_unordered(4)
        .collect()
        .await;
    for result in results {
        result.unwrap();
    }
    assert_eq!(control.exact_counts().rate_limited, 0, "no request was refused");
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "it waited for a reset"
    );
}

#[tokio::test]
async fn a_spent_day_fails_at_once_without_sending() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let mut settings = control.exact_settings();
    settings.daily_limit = 3;
    control.set_exact_settings(settings);
    let context = logged_in(&sandbox).await;
    for _ in 0..3 {
        rows(&context, json!({ "entity": "logistics/Items", "limit": 1 })).await;
    }
    let sent = control.exact_counts().requests;
    let error = call(
        &context,
        "exact_online.subscribe",
        json!({ "entity": "logistics/Items", "limit": 1 }),
    )
    .await
    .unwrap_err();
    assert!(
        error.message.contains("daily limit of 3 requests is spent"),
        "{}",
        error.message
    );
    assert!(error.message.contains("nothing was sent"), "{}", error.message);
    assert_eq!(control.exact_counts().requests, sent);
    assert_eq!(control.exact_counts().rate_limited, 0);
}
