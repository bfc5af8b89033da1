//! `exact_online.modified`, the polling trigger of `flowrun serve`, against the simulator: the
//! first poll starts from now, later polls return exactly the rows changed since the cursor,
//! and the rows at the cursor come again under the same keys (serve starts one run per key).

use flowrun_connect::trigger::TriggerMode;
use serde_json::json;

use crate::{assert_output, logged_in, sandbox};

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

    // The cursor is the greatest `Modified` seen, in RFC 3339.
    let greatest = second
        .events
        .iter()
        .map(|event| {
            event.event["record"]["Modified"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
        })
        .max()
        .unwrap();
    let cursor: jiff::Timestamp = second.cursor.as_ref().unwrap().as_str().unwrap().parse().unwrap();
    assert_eq!(cursor, greatest);
    for event in &second.events {
        let id = event.event["id"].as_str().unwrap();
        let modified = event.event["record"]["Modified"].as_str().unwrap();
        assert_eq!(event.key, format!("{id}:{modified}"));
    }

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

    // The user's filter is AND-ed with the window: exactly that account.
    let only = json!({"entity": "crm/Accounts", "select": ["Name"], "filter": format!("ID eq guid'{}'", made[1])});
    let filtered = trigger.poll(&context, &only, Some(cursor_of(&first))).await.unwrap();
    assert_eq!(filtered.events.len(), 1, "{:?}", keys(&filtered));
    assert_eq!(filtered.events[0].event["id"], made[1].as_str());
}

fn cursor_of(polled: &flowrun_connect::trigger::Polled) -> serde_json::Value {
    polled.cursor.clone().unwrap()
}

#[tokio::test]
async fn one_new_account_is_exactly_one_event() {
    let sandbox = sandbox().await;
    let context = logged_in(&sandbox).await;
    let trigger = flowrun_connector_exact_online::connector().trigger("modified").unwrap();
    let params = json!({"entity": "crm/Accounts"});
    let first = trigger.poll(&context, &params, None).await.unwrap();
    assert!(first.events.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let made = sandbox.control().exact_generate_accounts(1);
    let polled = trigger.poll(&context, &params, first.cursor.clone()).await.unwrap();
    assert_eq!(polled.events.len(), 1, "{:?}", keys(&polled));
    let event = &polled.events[0];
    assert_eq!(event.event["id"], made[0].as_str());
    // Without `select`, every property (as `subscribe` reads them).
    assert!(event.event["record"]["Name"].is_string(), "{}", event.event);
    assert_output("modified", &event.event);
    // Again from its cursor: the same key only.
    let again = trigger.poll(&context, &params, polled.cursor.clone()).await.unwrap();
    assert_eq!(keys(&again), keys(&polled));
    // A cursor in Exact's own zone-less form is read as UTC.
    let literal = polled
        .cursor
        .as_ref()
        .unwrap()
        .as_str()
        .unwrap()
        .trim_end_matches('Z')
        .to_owned();
    let same = trigger.poll(&context, &params, Some(json!(literal))).await.unwrap();
    assert_eq!(keys(&same), keys(&polled));
    let bad = trigger.poll(&context, &params, Some(json!(17))).await.unwrap_err();
    assert!(bad.message.contains("not an instant"), "{bad}");
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
