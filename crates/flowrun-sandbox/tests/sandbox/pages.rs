//! Every pagination style walks the whole collection exactly once.

use serde_json::Value;

use super::{get_json, start};

/// The ids of a page of records, checking each record's shape.
fn ids(records: &Value) -> Vec<u64> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["id"].as_u64().unwrap();
            assert_eq!(r["name"], format!("Item {id}"));
            id
        })
        .collect()
}

fn assert_all(seen: &[u64], total: u64) {
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
}

/// Walks `page`, `offset` and `cursor` styles with the given extra query (`&total=...`).
async fn walk_numbered(client: &reqwest::Client, api: &str, extra: &str, total: u64) {
    let mut seen = Vec::new();
    for page in 1.. {
        let (status, body) = get_json(client, &format!("{api}/pages/page?page={page}&per_page=7{extra}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["total"], total);
        assert_eq!(body["page"], page);
        let batch = ids(&body["data"]);
        if batch.is_empty() {
            break;
        }
        seen.extend(batch);
    }
    assert_all(&seen, total);

    let mut seen = Vec::new();
    loop {
        let offset = seen.len();
        let (_, body) = get_json(client, &format!("{api}/pages/offset?offset={offset}&limit=9{extra}")).await;
        assert_eq!(body["total"], total);
        let batch = ids(&body["items"]);
        if batch.is_empty() {
            break;
        }
        seen.extend(batch);
    }
    assert_all(&seen, total);

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, body) = get_json(client, &format!("{api}/pages/cursor?cursor={cursor}&limit=11{extra}")).await;
        seen.extend(ids(&body["data"]));
        match &body["meta"]["next_cursor"] {
            Value::String(next) => cursor = next.clone(),
            Value::Null => break,
            other => panic!("next_cursor {other}"),
        }
    }
    assert_all(&seen, total);
}

/// Walks the `next` (OData) and `link` styles by following absolute next URLs.
async fn walk_linked(client: &reqwest::Client, api: &str, extra: &str, total: u64) {
    let mut seen = Vec::new();
    let mut url = format!("{api}/pages/next?$top=13{extra}");
    loop {
        let (_, body) = get_json(client, &url).await;
        seen.extend(ids(&body["d"]["results"]));
        match body["d"].get("__next") {
            Some(next) => {
                url = next.as_str().unwrap().to_owned();
                assert!(url.starts_with("http://127.0.0.1:"), "{url}");
            }
            None => break,
        }
    }
    assert_all(&seen, total);

    let mut seen = Vec::new();
    let mut url = format!("{api}/pages/link?per_page=17{extra}");
    loop {
        let response = client.get(&url).send().await.unwrap();
        let next = response.headers().get("link").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        seen.extend(ids(&body));
        let Some(link) = next else { break };
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        url = link[1..link.find('>').unwrap()].to_owned();
    }
    assert_all(&seen, total);
}

#[tokio::test]
async fn every_style_walks_all_records_once() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    walk_numbered(&client, &api, "", 250).await;
    walk_linked(&client, &api, "", 250).await;
    // `total` overrides the collection size, and next links keep the override.
    walk_numbered(&client, &api, "&total=23", 23).await;
    walk_linked(&client, &api, "&total=23", 23).await;
}

#[tokio::test]
async fn defaults_limits_and_large_totals() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    let (_, body) = get_json(&client, &format!("{api}/pages/page")).await;
    assert_eq!(ids(&body["data"]), (1..=10).collect::<Vec<_>>());
    assert_eq!(body["per_page"], 10);
    let (_, body) = get_json(&client, &format!("{api}/pages/page?page=2&per_page=5000&total=100000")).await;
    assert_eq!(body["per_page"], 1000);
    assert_eq!(ids(&body["data"]), (1001..=2000).collect::<Vec<_>>());
    let (_, body) = get_json(&client, &format!("{api}/pages/page?page=26")).await;
    assert_eq!(ids(&body["data"]), Vec::<u64>::new());
    let (status, body) = get_json(&client, &format!("{api}/pages/page?page=abc")).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].is_string());
    let (status, _) = get_json(&client, &format!("{api}/pages/cursor?cursor=bogus")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_loop_page_links_to_itself() {
    let (sandbox, client) = start().await;
    let url = format!("{}/pages/loop", sandbox.test_api_url());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(
        response.headers()["link"].to_str().unwrap(),
        format!("<{url}>; rel=\"next\"")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(ids(&body["data"]), vec![1]);
    assert_eq!(body["next"], url.as_str());
}
