//! Client addresses behind a reverse proxy: with `trust_proxy`, which hop of
//! `X-Forwarded-For` is believed, and only from a trusted peer, as the audit
//! log and the sign-in throttle see it.

use reqwest::StatusCode;

use crate::helpers::*;

/// An app that believes forwarded addresses from the `trusted` proxy ranges
/// (loopback, where the tests' requests come from, when `None`).
async fn app_behind_a_proxy(trusted: Option<&str>) -> TestApp {
    let mut args = serve_args();
    args.trust_proxy = true;
    if let Some(ranges) = trusted {
        args.trusted_proxies = ranges.parse().unwrap();
    }
    spawn_app_with(None, args).await
}

/// A sign-in as `username` with a wrong password, through the app's own
/// browser with the CSRF token `csrf`, saying it was forwarded for
/// `forwarded_for`.
async fn failed_sign_in_forwarded_for(
    app: &TestApp,
    forwarded_for: &str,
    username: &str,
    csrf: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("username", username),
            ("password", "nope"),
            ("csrf_token", csrf),
        ])
        .send()
        .await
        .unwrap()
}

/// The address the (first) audit entry was recorded from.
fn audited_source(app: &TestApp) -> String {
    app.db()
        .query_row("SELECT source FROM audit_log", (), |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_is_the_one_it_appended() {
    let app = app_behind_a_proxy(None).await;
    let token = app.csrf().await;
    failed_sign_in_forwarded_for(&app, "6.6.6.6, 203.0.113.9", "ops", &token).await;
    assert_eq!(audited_source(&app), "203.0.113.9");
}

#[tokio::test]
async fn forwarded_addresses_from_an_untrusted_peer_are_ignored() {
    // The proxy is elsewhere; this test's requests come from loopback.
    let app = app_behind_a_proxy(Some("10.9.0.0/16")).await;
    let token = app.csrf().await;
    failed_sign_in_forwarded_for(&app, "203.0.113.9", "ops", &token).await;
    assert_eq!(audited_source(&app), "127.0.0.1");
}

#[tokio::test]
async fn a_client_inside_a_trusted_range_cannot_choose_its_address() {
    let app = app_behind_a_proxy(None).await;
    let token = app.csrf().await;
    // Every hop is a trusted (loopback) address: the leftmost is the
    // client's own writing, the rightmost the proxy's.
    failed_sign_in_forwarded_for(&app, "127.0.0.66, 127.0.0.77", "ops", &token).await;
    assert_eq!(audited_source(&app), "127.0.0.77");
}

#[tokio::test]
async fn ipv6_guesses_are_counted_by_their_64() {
    let app = app_behind_a_proxy(None).await;
    let token = app.csrf().await;
    let mut last = StatusCode::OK;
    // A new address of the same /64 and a new username every time: only the
    // network's count can stop it.
    for i in 0..31 {
        let from = format!("2001:db8:7:7::{:x}", i + 1);
        last = failed_sign_in_forwarded_for(&app, &from, &format!("user{i}"), &token)
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Another /64 is another source.
    let other = failed_sign_in_forwarded_for(&app, "2001:db8:7:8::1", "someone", &token).await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}
