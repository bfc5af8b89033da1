use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue};
use tokio_util::sync::CancellationToken;

use super::*;

fn exact_like() -> Quota {
    let window = |name: &str, infix: &str, when_spent| WindowHeaders {
        name: name.to_owned(),
        limit: format!("x-ratelimit{infix}-limit"),
        remaining: format!("x-ratelimit{infix}-remaining"),
        reset: format!("x-ratelimit{infix}-reset"),
        when_spent,
    };
    Quota::new(
        "exact",
        QuotaHeaders {
            windows: vec![
                window("minutely", "-minutely", WhenSpent::Wait),
                window("daily", "", WhenSpent::Fail),
            ],
        },
    )
}

fn epoch_ms(at: SystemTime) -> String {
    at.duration_since(UNIX_EPOCH).unwrap().as_millis().to_string()
}

fn headers(minutely: (u64, SystemTime), daily: (u64, SystemTime)) -> HeaderMap {
    let mut map = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        map.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    set("x-ratelimit-minutely-limit", "60".to_owned());
    set("x-ratelimit-minutely-remaining", minutely.0.to_string());
    set("x-ratelimit-minutely-reset", epoch_ms(minutely.1));
    set("x-ratelimit-limit", "5000".to_owned());
    set("x-ratelimit-remaining", daily.0.to_string());
    set("x-ratelimit-reset", epoch_ms(daily.1));
    map
}

fn in_a_day() -> SystemTime {
    SystemTime::now() + Duration::from_secs(86_400)
}

#[tokio::test]
async fn nothing_known_sends_at_once() {
    let quota = exact_like();
    let _sent = quota.reserve("s", &CancellationToken::new()).await.unwrap();
    assert!(quota.after_refusal().is_none());
}

#[tokio::test]
async fn a_spent_minute_is_waited_out_until_its_reset() {
    let quota = exact_like();
    let reset = SystemTime::now() + Duration::from_millis(300);
    quota.observe(&headers((0, reset), (4000, in_a_day())));
    let started = Instant::now();
    let _sent = quota.reserve("s", &CancellationToken::new()).await.unwrap();
    assert!(SystemTime::now() >= reset, "sent before the reset");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn reservations_spend_the_last_calls_of_a_window() {
    let quota = exact_like();
    let reset = SystemTime::now() + Duration::from_millis(400);
    quota.observe(&headers((2, reset), (4000, in_a_day())));
    let cancel = CancellationToken::new();
    let first = quota.reserve("s", &cancel).await.unwrap();
    let _second = quota.reserve("s", &cancel).await.unwrap();
    // The third would be the 61st of the minute while both are in flight: it waits for the
    // reset.
    let _third = quota.reserve("s", &cancel).await.unwrap();
    assert!(SystemTime::now() >= reset);
    drop(first);
}

#[tokio::test]
async fn a_request_the_service_does_not_count_gives_its_place_back() {
    let quota = exact_like();
    let reset = SystemTime::now() + Duration::from_secs(30);
    quota.observe(&headers((1, reset), (4000, in_a_day())));
    // An answer without the headers (a call the service does not count) ends the reservation.
    drop(quota.reserve("s", &CancellationToken::new()).await.unwrap());
    let started = Instant::now();
    let _next = quota.reserve("s", &CancellationToken::new()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "did not wait for the reset");
}

#[tokio::test]
async fn a_spent_day_fails_without_sending() {
    let quota = exact_like();
    quota.observe(&headers(
        (50, SystemTime::now() + Duration::from_secs(30)),
        (0, in_a_day()),
    ));
    let error = quota.reserve("s", &CancellationToken::new()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert!(
        error.message.contains("daily limit of 5000 requests is spent"),
        "{}",
        error.message
    );
    assert!(error.message.contains("nothing was sent"), "{}", error.message);
    assert!(error.message.contains("(in 23h 59m)"), "{}", error.message);
    assert!(matches!(quota.after_refusal(), Some(Err(_))));
}

#[tokio::test]
async fn a_refusal_waits_for_the_minutely_reset_not_the_daily_one() {
    let quota = exact_like();
    quota.observe(&headers(
        (0, SystemTime::now() + Duration::from_secs(20)),
        (4000, in_a_day()),
    ));
    let wait = quota.after_refusal().unwrap().unwrap();
    assert!(
        wait <= Duration::from_secs(21) && wait >= Duration::from_secs(19),
        "{wait:?}"
    );
}

#[tokio::test]
async fn the_lower_count_of_one_window_wins_and_old_windows_are_ignored() {
    let quota = exact_like();
    let now = SystemTime::now();
    let this_minute = now + Duration::from_secs(30);
    quota.observe(&headers((10, this_minute), (4000, in_a_day())));
    // A response to an earlier request of the same minute, arriving late.
    quota.observe(&headers((12, this_minute), (4002, in_a_day())));
    // A response from the previous minute.
    quota.observe(&headers((0, now - Duration::from_secs(1)), (4003, in_a_day())));
    assert!(quota.after_refusal().is_none());
    let state = quota.lock();
    assert_eq!(state.windows[0].remaining, Some(10));
    assert_eq!(state.windows[1].remaining, Some(4000));
}

#[tokio::test]
async fn a_new_window_replaces_a_spent_one() {
    let quota = exact_like();
    quota.observe(&headers(
        (0, SystemTime::now() + Duration::from_secs(30)),
        (4000, in_a_day()),
    ));
    quota.observe(&headers(
        (59, SystemTime::now() + Duration::from_secs(90)),
        (3999, in_a_day()),
    ));
    assert!(quota.after_refusal().is_none());
    quota.reserve("s", &CancellationToken::new()).await.unwrap();
}

#[tokio::test]
async fn cancelling_stops_the_wait() {
    let quota = exact_like();
    quota.observe(&headers(
        (0, SystemTime::now() + Duration::from_secs(50)),
        (4000, in_a_day()),
    ));
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = quota.reserve("s", &cancel).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Cancelled);
}

#[test]
fn headers_that_are_not_numbers_are_ignored() {
    let quota = exact_like();
    let mut map = HeaderMap::new();
    map.insert("x-ratelimit-minutely-remaining", HeaderValue::from_static("none"));
    map.insert("x-ratelimit-minutely-reset", HeaderValue::from_static("-5"));
    quota.observe(&map);
    assert!(quota.after_refusal().is_none());
}
