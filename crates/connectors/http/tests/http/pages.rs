//! Every pagination style reads every record once; loops and `max_pages` stop with an error.

use serde_json::{Value as Json, json};

use super::{call, sandbox};

fn ids(out: &Json) -> Vec<u64> {
    out["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn every_style_reads_every_record_once() {
    let sandbox = sandbox().await;
    let base = json!({ "base_url": sandbox.test_api_url() });
    let cases = [
        (
            json!({ "url": "pages/page", "query": { "per_page": 30 } }),
            json!({ "kind": "page", "param": "page", "items": "$.data" }),
            10,
        ),
        (
            json!({ "url": "pages/offset" }),
            json!({ "kind": "offset", "param": "offset", "limit_param": "limit", "page_size": 50, "items": "$.items" }),
            5,
        ),
        (
            json!({ "url": "pages/cursor", "query": { "limit": 100 } }),
            json!({ "kind": "cursor", "next": "$.meta.next_cursor", "param": "cursor", "items": "$.data" }),
            3,
        ),
        (
            json!({ "url": "pages/next", "query": { "$top": 60 } }),
            json!({ "kind": "next_url", "next": "$.d.__next", "items": "$.d.results" }),
            5,
        ),
        (
            json!({ "url": "pages/link", "query": { "per_page": 25 } }),
            json!({ "kind": "link_header" }),
            10,
        ),
    ];
    for (mut params, paginate, pages) in cases {
        params["paginate"] = paginate.clone();
        let out = call(Some(base.clone()), params)
            .await
            .unwrap_or_else(|e| panic!("{paginate}: {e}"));
        assert_eq!(ids(&out), (1..=250).collect::<Vec<_>>(), "{paginate}");
        assert!(out["pages"].as_u64().unwrap() >= pages, "{paginate}: {}", out["pages"]);
        assert_eq!(out["status"], 200);
    }
}

#[tokio::test]
async fn a_next_link_seen_twice_is_an_error() {
    let sandbox = sandbox().await;
    let base = json!({ "base_url": sandbox.test_api_url() });
    let error = call(
        Some(base),
        json!({ "url": "pages/loop", "paginate": { "kind": "next_url", "next": "$.next", "items": "$.data" } }),
    )
    .await
    .unwrap_err();
    assert!(
        error.message.starts_with("pagination loop: after 1 pages"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn reaching_max_pages_with_more_to_read_is_an_error() {
    let sandbox = sandbox().await;
    let base = json!({ "base_url": sandbox.test_api_url() });
    let error = call(
        Some(base),
        json!({ "url": "pages/page", "paginate": { "kind": "page", "param": "page", "items": "$.data", "max_pages": 3 } }),
    )
    .await
    .unwrap_err();
    assert!(
        error.message.starts_with("stopped at `max_pages` (3) with 30 items"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn items_that_are_not_a_list_are_named() {
    let sandbox = sandbox().await;
    let base = json!({ "base_url": sandbox.test_api_url() });
    let error = call(
        Some(base),
        json!({ "url": "pages/page", "paginate": { "kind": "page", "param": "page" } }),
    )
    .await
    .unwrap_err();
    assert!(
        error.message.contains("page 1 has no list of items (found an object)"),
        "{}",
        error.message
    );
}
