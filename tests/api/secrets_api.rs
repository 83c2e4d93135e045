//! The Secrets area through `/api/v1/secrets`: writes with their
//! versions and refusals, the downloads, expiry dates, sorting and
//! filtering, and the document's one object per type. (The pages are in
//! `secrets.rs`; delivery to clusters in `delivery.rs`; ECR's tokens in
//! `ecr.rs`; reads from memory in `memory.rs`.)

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_stale_if_match_is_412_and_changes_nothing() {
    let (app, t) = app_with_token().await;
    let r = app
        .api(Method::GET, "/api/v1/secrets/gitlab", Some(&t), None)
        .await;
    assert_eq!(r.headers()["etag"], "\"1\"");
    let patch = |v: &'static str, body: Value| {
        let (url, t) = (app.url("/api/v1/secrets/gitlab"), t.clone());
        async move {
            reqwest::Client::new()
                .patch(url)
                .bearer_auth(t)
                .header("if-match", v)
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
        }
    };
    let r = patch("\"1\"", json!({"password": "glpat-second-5678"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let before = app.digest();
    let r = patch("\"1\"", json!({"display_name": "late"})).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.digest(), before);
    assert_eq!(app.open_secret("gitlab"), "glpat-second-5678");
    // An absent password keeps it; null clears the display name.
    let r = patch("\"2\"", json!({"display_name": "GitLab"})).await;
    assert_eq!(json_of(r).await["display_name"], "GitLab");
    let r = patch("*", json!({"display_name": null})).await;
    assert_eq!(json_of(r).await["display_name"], "");
    assert_eq!(app.open_secret("gitlab"), "glpat-second-5678");
}

#[tokio::test]
async fn deleting_a_secret_in_use_is_409_naming_the_images() {
    let (app, t) = app_with_token().await;
    let r = app.api(
        Method::POST,
        "/api/v1/images",
        Some(&t),
        Some(json!({"name": "notebook", "url": "registry.gitlab.com/team/nb:1", "pull_secret": "gitlab"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/api/v1/images/notebook");
    let r = app
        .api(Method::DELETE, "/api/v1/secrets/gitlab", Some(&t), None)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        json_of(r).await["detail"]
            .as_str()
            .unwrap()
            .contains("notebook")
    );
    let one = json_of(
        app.api(Method::GET, "/api/v1/secrets/gitlab", Some(&t), None)
            .await,
    )
    .await;
    assert_eq!(one["used_by"], json!(["notebook"]));
    assert_eq!(
        app.api(Method::DELETE, "/api/v1/images/notebook", Some(&t), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api(Method::DELETE, "/api/v1/secrets/gitlab", Some(&t), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api(Method::GET, "/api/v1/secrets/gitlab", Some(&t), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_bodies_are_4xx_naming_the_field_and_change_nothing() {
    let (app, t) = app_with_token().await;
    let before = app.digest();
    let post = |body: String, ct: &'static str| {
        let (url, t) = (app.url("/api/v1/secrets"), t.clone());
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(t)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(
        r#"{"name":"a","type":"git_sync","secret":"x","colour":"red"}"#.into(),
        "application/json",
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json_of(r).await["detail"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let r = post(r#"{"name":7,"type":"git_sync"}"#.into(), "application/json").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(r#"["gitlab"]"#.into(), "application/json").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post("{not json".into(), "application/json").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post("name=a".into(), "application/x-www-form-urlencoded").await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(
        r#"{{"name":"a","type":"git_sync","secret":"{}"}}"#,
        "k".repeat(300 * 1024)
    );
    let r = post(big, "application/json").await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The forms' own messages, under the fields' names.
    let r = post(
        r#"{"name":"Bad Name","type":"image_pull","registry_host":"","username":"a:b","password":""}"#.into(),
        "application/json",
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = json_of(r).await;
    assert!(
        p["errors"]["name"][0]
            .as_str()
            .unwrap()
            .starts_with("Name may contain only")
    );
    assert_eq!(
        p["errors"]["registry_host"][0],
        "Registry Host is required."
    );
    assert!(p["errors"]["username"][0].as_str().unwrap().contains("':'"));
    assert_eq!(p["errors"]["password"][0], "Password is required.");
    let r = post(
        json!({"name": "gitlab", "type": "git_sync", "secret": SSH_KEY}).to_string(),
        "application/json",
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    for q in [
        "per_page=0",
        "per_page=201",
        "page=0",
        "sort=colour",
        "dir=up",
        "page=x",
    ] {
        let r = app
            .api(Method::GET, &format!("/api/v1/secrets?{q}"), Some(&t), None)
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
    let r = app
        .api(Method::PUT, "/api/v1/secrets", Some(&t), None)
        .await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET, POST");
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn downloads_are_the_same_bytes_as_the_pages() {
    let (app, t) = app_with_token().await;
    for (api, page) in [
        (
            "/api/v1/secrets/gitlab/manifest?namespace=ml-team",
            "/admin/secrets/gitlab/manifest.yaml?namespace=ml-team",
        ),
        (
            "/api/v1/secrets/gitlab/manifest?format=json",
            "/admin/secrets/gitlab/manifest.json",
        ),
        (
            "/api/v1/secrets/gitlab/dockerconfig",
            "/admin/secrets/gitlab/dockerconfig.json",
        ),
    ] {
        let a = app
            .api(Method::GET, api, Some(&t), None)
            .await
            .bytes()
            .await
            .unwrap();
        let b = app.get(page).await.bytes().await.unwrap();
        assert_eq!(a, b, "{api}");
    }
    let r = app
        .api(
            Method::GET,
            "/api/v1/secrets/gitlab/manifest?namespace=Bad",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The document states the domain's rules (issue 19): one object per secret
/// type, patterns from the parsers; and the server holds to the same shape.
#[tokio::test]
async fn the_document_states_each_type_and_the_server_keeps_to_it() {
    let (app, t) = app_with_token().await;
    let doc = json_of(app.get("/api/v1/openapi.json").await).await;
    let create = &doc["components"]["schemas"]["SecretCreate"]["oneOf"];
    assert_eq!(
        create[0]["properties"]["type"]["enum"],
        json!(["image_pull"])
    );
    assert_eq!(
        create[0]["required"],
        json!(["type", "name", "registry_host", "username", "password"])
    );
    assert_eq!(create[1]["properties"]["type"]["enum"], json!(["git_sync"]));
    assert_eq!(create[1]["additionalProperties"], json!(false));
    let host = create[0]["properties"]["registry_host"]["pattern"]
        .as_str()
        .expect("a registry host pattern");
    assert!(host.starts_with("^(https?://)?"), "{host}");
    let name = create[0]["properties"]["name"]["pattern"].as_str().unwrap();
    assert!(name.starts_with("^(?!(new|export\\.yaml)$)"), "{name}");
    let url = &doc["components"]["schemas"]["ImagePatch"]["properties"]["url_for_gpu"];
    assert_eq!(url["type"], json!(["string", "null"]));

    // A field of the other type, in a create: 422 naming it, nothing made.
    let (status, body) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets",
            Some(&t),
            Some(json!({"name": "key", "type": "git_sync", "secret": SSH_KEY,
                        "registry_host": "ghcr.io"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"]["registry_host"].is_array(), "{body}");
    let r = app
        .api(Method::GET, "/api/v1/secrets/key", Some(&t), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // In a patch a password or key is never empty, and another type's
    // field must still be valid text (it is not applied).
    let before = app.digest();
    for (patch, field) in [
        (json!({"password": ""}), "password"),
        (json!({"secret": "not a key"}), "secret"),
    ] {
        let (status, body) = app
            .api_json(
                Method::PATCH,
                "/api/v1/secrets/gitlab",
                Some(&t),
                Some(patch),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["errors"][field].is_array(), "{body}");
    }
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn the_api_reads_and_writes_expiry_dates() {
    let app = spawn_app().await;
    app.login_admin().await;
    let t = wharf::cli::token_create(&app.db, ADMIN, "ci", "write", 3600).unwrap();
    let (s, v) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets",
            Some(&t),
            Some(json!({"name": "k", "type": "git_sync", "secret": SSH_KEY,
                "expires_on": "2031-05-01"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["expires_on"], "2031-05-01");
    let (s, v) = app
        .api_json(
            Method::PATCH,
            "/api/v1/secrets/k",
            Some(&t),
            Some(json!({"expires_on": "soon"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"]["expires_on"][0],
        "Expires must be a date like 2026-12-31."
    );
    let (s, v) = app
        .api_json(
            Method::PATCH,
            "/api/v1/secrets/k",
            Some(&t),
            Some(json!({"expires_on": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["expires_on"], serde_json::Value::Null);
}

#[tokio::test]
async fn the_api_sorts_and_filters_secrets_as_the_page_does() {
    let app = spawn_app().await;
    app.login_admin().await;
    secret_expiring(&app, "later", &day(20)).await;
    secret_expiring(&app, "gone", &day(-2)).await;
    secret_expiring(&app, "soon", &day(3)).await;
    let token = wharf::cli::token_create(&app.db, ADMIN, "ci", "read", 3600).unwrap();
    let items = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |path: &'static str| app.api_json(Method::GET, path, Some(&token), None);
    let (s, v) = get("/api/v1/secrets?sort=expires").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(items(&v), ["gone", "soon", "later"]);
    let (_, v) = get("/api/v1/secrets?sort=expires&dir=desc").await;
    assert_eq!(items(&v), ["later", "soon", "gone"]);
    let (_, v) = get("/api/v1/secrets?filter=expiring").await;
    assert_eq!(items(&v), ["later", "soon"]);
    let (_, v) = get("/api/v1/secrets?filter=expired").await;
    assert_eq!(items(&v), ["gone"]);
    // An empty filter is none of the document's values: 422 (a page reads
    // it as no filter).
    let (s, v) = get("/api/v1/secrets?filter=").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["filter"].is_array(), "{v}");
    // The page reads the same request the same way.
    let page = app.get_html("/admin/secrets?sort=expires").await;
    assert_eq!(names(&page), ["gone", "soon", "later"]);
    // What the page would pass over, the API names.
    let (s, v) = get("/api/v1/secrets?sort=owner&filter=someday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"]["sort"][0],
        "sort must be one of name, display_name, type, updated, expires."
    );
    let (s, v) = get("/api/v1/secrets?filter=someday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"]["filter"][0],
        "filter must be one of expiring, expired, failing."
    );
    // The OpenAPI document names the same keys.
    let (_, doc) = app
        .api_json(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    let sort = &doc["components"]["schemas"]["SecretSort"]["enum"];
    assert_eq!(
        sort,
        &serde_json::json!(["name", "display_name", "type", "updated", "expires"])
    );
}

/// Which fields each type has is one table: a body is read by it, for a
/// create and a patch alike, and nothing the document refuses is stored.
#[tokio::test]
async fn bodies_are_read_by_the_table_of_fields() {
    let (app, t) = app_with_token().await;
    let before = app.digest();
    let post = |body: serde_json::Value| {
        app.api_json(Method::POST, "/api/v1/secrets", Some(&t), Some(body))
    };
    for (body, field) in [
        // A field of another type names it.
        (
            json!({"name": "k", "type": "image_pull", "registry_host": "ghcr.io",
                   "username": "u", "password": "p", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}),
            Some("access_key_id"),
        ),
        (
            json!({"name": "k", "type": "ecr", "registry_host": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                   "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "x".repeat(40),
                   "password": "p"}),
            Some("password"),
        ),
        // null only where the document allows it.
        (
            json!({"name": "k", "type": "git_sync", "secret": SSH_KEY, "display_name": null}),
            Some("display_name"),
        ),
        (
            json!({"name": "k", "type": "image_pull", "registry_host": null,
                   "username": "u", "password": "p"}),
            Some("registry_host"),
        ),
        // A string where one is due.
        (
            json!({"name": "k", "type": "image_pull", "registry_host": "ghcr.io",
                   "username": 7, "password": "p"}),
            Some("username"),
        ),
        (
            json!({"name": "k", "type": "image_pull", "registry_host": "ghcr.io",
                   "username": "u", "password": "p", "node_patterns": "ghcr.io"}),
            Some("node_patterns"),
        ),
        // A name no secret has.
        (
            json!({"name": "k", "type": "git_sync", "secret": SSH_KEY, "colour": "red"}),
            None,
        ),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {answer}"
        );
        match field {
            Some(f) => assert!(answer["errors"][f].is_array(), "{body} → {answer}"),
            None => assert!(
                answer["detail"].as_str().unwrap_or("").contains("colour"),
                "{answer}"
            ),
        }
    }
    // A patch cannot rename or retype, nor null what must be there.
    for body in [
        json!({"name": "other"}),
        json!({"type": "git_sync"}),
        json!({"username": null}),
        json!({"deliver": null}),
        json!({"deliver": "yes"}),
    ] {
        let (status, answer) = app
            .api_json(
                Method::PATCH,
                "/api/v1/secrets/gitlab",
                Some(&t),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {answer}"
        );
    }
    assert_eq!(app.digest(), before);

    // What the table allows a patch to clear, it clears; the rest is kept,
    // the password too.
    let (status, answer) = app
        .api_json(
            Method::PATCH,
            "/api/v1/secrets/gitlab",
            Some(&t),
            Some(json!({"node_patterns": ["registry.gitlab.com/team"], "deliver": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["node_patterns"], json!(["registry.gitlab.com/team"]));
    let (status, answer) = app
        .api_json(
            Method::PATCH,
            "/api/v1/secrets/gitlab",
            Some(&t),
            Some(json!({"node_patterns": null, "username": "renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["node_patterns"], json!([]));
    assert_eq!(answer["username"], "renamed");
    assert_eq!(answer["registry_host"], "registry.gitlab.com");
    assert_eq!(app.open_secret("gitlab"), "glpat-first-1234");
}
