//! `exact_online.modified`, the polling trigger of `flowrun serve`, against the simulator: the
//! first poll starts from now, later polls return exactly the rows changed since the cursor,
//! and the rows at the cursor come again under the same keys (serve starts one run per key).

use flowrun_connect::trigger::TriggerMode;
use serde_json::json;

use crate::{logged_in, sandbox};

fn keys(polled: &flowrun_connect::trigger::Polled) -> Vec<String> {
    polled.events.iter().map(|event| event.key.clone()).collect()
}

#[tokio::test]
async fn polls_return_the_rows_modified_since_the_cursor() {
    let sandbox = sandbox().await;
    let context = logged_in(&sandbox).await;
    let trigger = flowrun_connector_exact_online::connector().trigger("modified").unwrap();
    let params = json!({"entity": "crm/Accounts", "select": ["Name"], "interval": "10s"});
    assert_eq!(
        trigger.mode(&params),
        TriggerMode::Polling {
            interval: std::time::Duration::from_secs(10)
        }
    );

    // The first poll sees nothing of the history and sets the cursor to now.
    let first = trigger.poll(&context, &params, None).await.unwrap();
    assert!(first.events.is_empty());
    let cursor = first.cursor.clone().unwrap();

    // Two accounts made after it: the next poll returns them, keyed by ID and Modified.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let made = sandbox.control().exact_generate_accounts(2);
    let second = trigger.poll(&context, &params, Some(cursor)).await.unwrap();
    let ids: Vec<&str> = second
        .events
        .iter()
        .map(|event| event.event["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{:?}", keys(&second));
    for id in &made {
        assert!(ids.contains(&id.as_str()), "{id} missing from {ids:?}");
    }
    let event = &second.events[0].event;
    assert_eq!(event["entity"], "crm/Accounts");
    assert!(event["record"]["Name"].is_string(), "{event}");
    assert!(event["record"]["Modified"].as_str().unwrap().ends_with('Z'), "{event}");

    // Polling again from the new cursor: the rows at the cursor come back with the same keys
    // (`ge`), nothing else.
    let third = trigger.poll(&context, &params, second.cursor.clone()).await.unwrap();
    for key in keys(&third) {
        assert!(keys(&second).contains(&key), "{key} is new");
    }

    // A change of one account: a new key for it.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    sandbox.control().exact_touch_accounts(&made[..1]);
    let fourth = trigger.poll(&context, &params, second.cursor.clone()).await.unwrap();
    let new: Vec<String> = keys(&fourth)
        .into_iter()
        .filter(|key| !keys(&second).contains(key))
        .collect();
    assert_eq!(new.len(), 1, "{:?}", keys(&fourth));
    assert!(new[0].starts_with(&made[0]), "{new:?}");
}

#[tokio::test]
async fn since_starts_the_first_poll_and_a_bad_one_is_named() {
    let sandbox = sandbox().await;
    let context = logged_in(&sandbox).await;
    let trigger = flowrun_connector_exact_online::connector().trigger("modified").unwrap();
    let all = trigger
        .poll(
            &context,
            &json!({"entity": "crm/Accounts", "since": "2000-01-01T00:00:00Z"}),
            None,
        )
        .await
        .unwrap();
    assert!(!all.events.is_empty());
    let bad = trigger
        .poll(&context, &json!({"entity": "crm/Accounts", "since": "yesterday"}), None)
        .await
        .unwrap_err();
    assert!(bad.message.contains("`yesterday` is not an RFC 3339 instant"), "{bad}");
}
