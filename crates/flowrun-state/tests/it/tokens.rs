use flowrun_state::TokenSet;

use crate::{Backend, TestStore, backends};

fn tokens(access: &str) -> TokenSet {
    TokenSet {
        access_token: access.to_owned(),
        refresh_token: Some("refresh-secret".to_owned()),
        token_type: Some("Bearer".to_owned()),
        expires_at: Some(jiff::Timestamp::from_second(1_900_000_000).unwrap()),
        scopes: vec!["read".to_owned(), "write".to_owned()],
    }
}

backends!(token_sets_are_stored_replaced_and_deleted_per_connection);
async fn token_sets_are_stored_replaced_and_deleted_per_connection(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    assert_eq!(store.token("exact:main").await.unwrap(), None);
    store.put_token("exact:main", tokens("first")).await.unwrap();
    store.put_token("onecrm:main", tokens("other")).await.unwrap();
    assert_eq!(store.token("exact:main").await.unwrap(), Some(tokens("first")));

    let mut refreshed = tokens("second");
    refreshed.refresh_token = None;
    refreshed.scopes.clear();
    store.put_token("exact:main", refreshed.clone()).await.unwrap();
    assert_eq!(test.reopen().await.token("exact:main").await.unwrap(), Some(refreshed));

    assert!(store.delete_token("exact:main").await.unwrap());
    assert!(!store.delete_token("exact:main").await.unwrap());
    assert_eq!(store.token("exact:main").await.unwrap(), None);
    assert_eq!(store.token("onecrm:main").await.unwrap(), Some(tokens("other")));
}

#[test]
fn token_sets_never_print_their_tokens() {
    let printed = format!("{:?}", tokens("access-secret"));
    assert!(!printed.contains("access-secret"), "{printed}");
    assert!(!printed.contains("refresh-secret"), "{printed}");
    assert!(printed.contains("scopes"), "{printed}");
}
