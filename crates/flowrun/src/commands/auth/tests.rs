use serde_json::json;

use super::*;

fn connection(connector: &str, config: Json) -> Connection {
    serde_json::from_value(json!({ "connector": connector, "config": config })).unwrap()
}

#[test]
fn a_missing_redirect_uri_listens_on_a_free_port() {
    let listen = Listen::of(None).unwrap();
    assert_eq!(listen, Listen::FreePort);
    assert_eq!(listen.path(), "/callback");
    assert_eq!(listen.uri(4321), "http://127.0.0.1:4321/callback");
    assert_eq!(listen.addresses().0, "127.0.0.1:0".parse().unwrap());
}

#[test]
fn loopback_redirect_uris_are_listened_on_as_written() {
    let listen = Listen::of(Some("http://127.0.0.1:8765/oauth/back?x=1")).unwrap();
    assert_eq!(listen.path(), "/oauth/back");
    assert_eq!(listen.uri(8765), "http://127.0.0.1:8765/oauth/back?x=1");
    assert_eq!(listen.addresses(), ("127.0.0.1:8765".parse().unwrap(), vec![]));

    let listen = Listen::of(Some("http://LOCALHOST:9000")).unwrap();
    assert_eq!(listen.path(), "/");
    assert_eq!(
        listen.addresses(),
        ("127.0.0.1:9000".parse().unwrap(), vec!["[::1]:9000".parse().unwrap()])
    );

    let listen = Listen::of(Some("http://[::1]:9001/cb")).unwrap();
    assert_eq!(listen.addresses(), ("[::1]:9001".parse().unwrap(), vec![]));
    // No port: http's own.
    let listen = Listen::of(Some("http://localhost/cb")).unwrap();
    assert_eq!(listen.addresses().0.port(), 80);
}

#[test]
fn other_redirect_uris_are_refused_with_the_reason() {
    for (uri, reason) in [
        (
            "https://app.example.com/callback",
            "is not on this machine's loopback interface",
        ),
        ("https://127.0.0.1:8765/callback", "is not an http:// URL"),
        (
            "http://10.0.0.1:8765/callback",
            "is not on this machine's loopback interface",
        ),
        (
            "http://127.0.0.2:8765/callback",
            "is not on this machine's loopback interface",
        ),
        ("not a url", "is not a URL"),
        ("http://127.0.0.1:0/callback", "names no port"),
    ] {
        let error = Listen::of(Some(uri)).unwrap_err();
        assert!(error.contains(reason), "{uri}: {error}");
        assert!(
            error.contains("loopback URL such as http://127.0.0.1:8765/callback"),
            "{error}"
        );
    }
}

#[test]
fn the_names_a_connection_reads_are_found() {
    let names = flowrun_engine::plan::names_in(
        connection(
            "http",
            json!({
                "base_url": "{{ env.BASE }}/v1",
                "auth": {
                    "kind": "oauth2", "grant": "authorization_code",
                    "token_url": "https://x/token", "client_id": "{{ env.CLIENT_ID }}",
                    "client_secret": "{{ secrets.CLIENT_SECRET }}", "scopes": ["{{ secrets.SCOPE }}"],
                },
            }),
        )
        .config
        .values(),
    );
    assert_eq!(names.env.iter().collect::<Vec<_>>(), ["BASE", "CLIENT_ID"]);
    assert_eq!(names.secrets.iter().collect::<Vec<_>>(), ["CLIENT_SECRET", "SCOPE"]);
}

#[test]
fn configs_are_rendered_and_read_per_connector() {
    let conn = connection(
        "http",
        json!({
            "base_url": "{{ env.BASE }}",
            "auth": {
                "kind": "oauth2", "grant": "authorization_code", "token_url": "{{ env.BASE }}/token",
                "authorize_url": "{{ env.BASE }}/authorize", "client_id": "app",
                "client_secret": "{{ secrets.S }}",
            },
        }),
    );
    let env = IndexMap::from([("BASE".to_owned(), "http://127.0.0.1:1".to_owned())]);
    let secrets = IndexMap::from([("S".to_owned(), Secret::new("shh"))]);
    let config = render(&conn, &env, &secrets).unwrap();
    let settings = client_settings("http", config).unwrap();
    assert_eq!(settings.base_url.as_deref(), Some("http://127.0.0.1:1"));
    let Some(Auth::OAuth2 {
        token_url,
        client_secret,
        grant,
        ..
    }) = settings.http.auth
    else {
        panic!("oauth2 auth expected");
    };
    assert_eq!(token_url, "http://127.0.0.1:1/token");
    assert_eq!(client_secret.as_deref(), Some("shh"));
    assert_eq!(grant, OAuth2Grant::AuthorizationCode);

    // A connector that builds no auth of its own: only the shared HTTP keys are read.
    let settings = client_settings(
        "conexiom",
        json!({ "hubco_id": 1, "timeout": "10s", "auth": { "kind": "bearer", "token": "t" } }),
    )
    .unwrap();
    assert!(matches!(settings.http.auth, Some(Auth::Bearer { .. })));
    assert_eq!(settings.base_url, None);

    // Exact Online makes its authorization-code grant from its own keys.
    let settings = client_settings(
        "exact_online",
        json!({ "base_uri": "https://start.exactonline.nl", "client_id": "app", "client_secret": "shh" }),
    )
    .unwrap();
    let Some(Auth::OAuth2 {
        grant,
        authorize_url,
        token_url,
        ..
    }) = settings.http.auth
    else {
        panic!("oauth2 auth expected");
    };
    assert_eq!(grant, OAuth2Grant::AuthorizationCode);
    assert_eq!(
        authorize_url.as_deref(),
        Some("https://start.exactonline.nl/api/oauth2/auth")
    );
    assert_eq!(token_url, "https://start.exactonline.nl/api/oauth2/token");
    let error = client_settings("exact_online", json!({ "division": 1 })).unwrap_err();
    assert!(error.contains("missing field `base_uri`"), "{error}");

    let error = client_settings("http", json!({ "auth": { "kind": "magic" } })).unwrap_err();
    assert!(error.starts_with("invalid config:"), "{error}");
}

#[test]
fn connections_without_the_authorization_code_grant_are_explained() {
    let message = not_authorization_code("crm", "http", None);
    assert!(
        message.starts_with("connection `crm` (connector `http`) has no `auth`"),
        "{message}"
    );
    let auth: Auth = serde_json::from_value(json!({
        "kind": "oauth2", "grant": "client_credentials", "token_url": "https://x/token", "client_id": "a",
    }))
    .unwrap();
    let message = not_authorization_code("crm", "http", Some(&auth));
    assert!(
        message.starts_with("connection `crm` uses oauth2 with grant `client_credentials`"),
        "{message}"
    );
    let auth: Auth = serde_json::from_value(json!({ "kind": "basic", "username": "u", "password": "p" })).unwrap();
    let message = not_authorization_code("crm", "http", Some(&auth));
    assert!(message.starts_with("connection `crm` uses `basic` auth;"), "{message}");
    assert!(message.contains("grant: authorization_code"), "{message}");
}
