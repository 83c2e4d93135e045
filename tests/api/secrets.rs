use reqwest::StatusCode;

use crate::helpers::*;

const TOKEN: &str = "glpat-Zx9-SECRET-deploy-token";

#[tokio::test]
async fn the_seed_flow_creates_a_gitlab_pull_secret() {
    let app = spawn_app().await;
    app.login_admin().await;
    let form = app.get_html("/admin/secrets/new").await;
    for label in [
        "Name",
        "Display Name",
        "Type",
        "Registry Host",
        "Username",
        "Password",
        "Confirm",
        "Cancel",
        "Image Pull",
        "Git Sync",
    ] {
        assert!(form.contains(label), "{label}");
    }
    app.create_secret(
        "gitlab-registry",
        "GitLab",
        "registry.gitlab.com",
        "gitlab+deploy-token-78108",
        TOKEN,
    )
    .await;
    let list = app.get_html("/admin/secrets").await;
    assert!(list.contains("Secret gitlab-registry created."));
    for cell in [
        "gitlab-registry",
        "GitLab",
        "Image Pull",
        "registry.gitlab.com",
    ] {
        assert!(list.contains(cell), "{cell}");
    }
    // The flash is shown once.
    assert!(!app.get_html("/admin/secrets").await.contains("created."));
    assert!(!list.contains(TOKEN));
    let edit = app.get_html("/admin/secrets/gitlab-registry").await;
    assert!(edit.contains("gitlab+deploy-token-78108"));
    assert!(edit.contains("leave blank to keep"));
    assert!(!edit.contains(TOKEN));
    assert_eq!(app.open_secret("gitlab-registry"), TOKEN);
}

#[tokio::test]
async fn stored_passwords_are_never_plain_in_the_sqlite_files() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "", "registry.gitlab.com", "deployer", TOKEN)
        .await;
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", "repo-key"),
                ("type", "git_sync"),
                ("secret", SSH_KEY),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    let mut bytes = Vec::new();
    for f in ["wharf.db", "wharf.db-wal"] {
        if let Ok(b) = std::fs::read(app.dir.path().join(f)) {
            bytes.extend(b);
        }
    }
    assert!(
        bytes.windows(b"deployer".len()).any(|w| w == b"deployer"),
        "the scan reads the data"
    );
    for needle in [TOKEN, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in plain"
        );
    }
}

#[tokio::test]
async fn git_sync_keys_are_normalised() {
    let app = spawn_app().await;
    app.login_admin().await;
    assert!(
        app.get_html("/admin/secrets/new?type=git_sync")
            .await
            .contains(r#"<option value="git_sync" selected>"#)
    );
    // Pasted from Windows: CRLF line ends and no final newline.
    let pasted = SSH_KEY.trim_end().replace('\n', "\r\n");
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", "repo-key"),
                ("type", "git_sync"),
                ("secret", &pasted),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    let stored = app.open_secret("repo-key");
    assert!(!stored.contains('\r'));
    assert!(stored.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
    let list = app.get_html("/admin/secrets").await;
    assert!(list.contains("Git Sync"));

    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", "bad-key"),
                ("type", "git_sync"),
                ("secret", "ssh-rsa AAAA user@host"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("must be an SSH private key"));
    assert!(!body.contains("ssh-rsa AAAA"), "the key is never echoed");
}

#[tokio::test]
async fn rejected_forms_keep_values_and_say_what_is_wrong() {
    let app = spawn_app().await;
    app.login_admin().await;
    let before = app.digest();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &[("type", "image_pull")],
            &[
                "Name is required.",
                "Registry Host is required.",
                "Username is required.",
                "Password is required.",
            ],
        ),
        (
            &[
                ("name", "Bad_Name"),
                ("type", "image_pull"),
                ("registry_host", "registry.gitlab.com"),
                ("username", "u"),
                ("password", "p"),
            ],
            &["lowercase letters"],
        ),
        (
            &[("name", "new"), ("type", "git_sync"), ("secret", SSH_KEY)],
            &["reserved"],
        ),
        (
            &[
                ("name", "export.yaml"),
                ("type", "git_sync"),
                ("secret", SSH_KEY),
            ],
            &["reserved"],
        ),
        (
            &[("name", "ok"), ("type", "docker"), ("secret", SSH_KEY)],
            &["Choose a type"],
        ),
        (
            &[
                ("name", "ok"),
                ("type", "image_pull"),
                ("registry_host", "user:pw@host.io"),
                ("username", "u"),
                ("password", "p"),
            ],
            &["without user name"],
        ),
        (
            &[
                ("name", "ok"),
                ("type", "image_pull"),
                ("registry_host", "ghcr.io"),
                ("username", "a:b"),
                ("password", "p"),
            ],
            &["must not contain &#39;:&#39;"],
        ),
    ];
    for (fields, messages) in cases {
        let r = app.post("/admin/secrets", fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let body = r.text().await.unwrap();
        for m in *messages {
            assert!(body.contains(m), "{m} for {fields:?}");
        }
    }
    let long_name = "a".repeat(64);
    let long_display = "d".repeat(129);
    let long_password = "p".repeat(8193);
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", &long_name),
                ("display_name", &long_display),
                ("type", "image_pull"),
                ("registry_host", "ghcr.io"),
                ("username", "keep-me"),
                ("password", &long_password),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    for m in ["at most 63", "at most 128", "at most 8192"] {
        assert!(body.contains(m), "{m}");
    }
    assert!(
        body.contains(r#"value="keep-me""#),
        "entered values are kept"
    );
    assert!(body.contains(&format!(r#"value="{long_name}""#)));
    assert!(!body.contains(&long_password), "never the password");
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn duplicate_names_are_refused() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    let before = app.digest();
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", "gitlab"),
                ("type", "git_sync"),
                ("secret", SSH_KEY),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("A secret named gitlab already exists.")
    );
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn html_in_display_names_is_escaped() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("xss", "<script>alert(1)</script>", "ghcr.io", "u", "p")
        .await;
    let list = app.get_html("/admin/secrets").await;
    assert!(!list.contains("<script>alert(1)</script>"));
    assert!(list.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
}

#[tokio::test]
async fn docker_hub_aliases_are_stored_as_one() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("hub", "", "docker.io", "me", "p").await;
    let host: String = app
        .db()
        .query_row(
            "SELECT registry_host FROM secrets WHERE name = 'hub'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(host, "https://index.docker.io/v1/");
}

/// A Registry Host typed as a URL is kept as the key registry clients and
/// kubelet look up, `host[:port]`, and the page says what was kept; the API
/// answers with it.
#[tokio::test]
async fn a_registry_url_is_kept_as_its_host_and_the_page_says_so() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("ghcr", "", "https://ghcr.io/", "me", "p")
        .await;
    let list = app.get_html("/admin/secrets").await;
    assert!(
        list.contains("Secret ghcr created. Registry Host https://ghcr.io/ is kept as ghcr.io."),
        "{list}"
    );
    let token = wharf::cli::token_create(&app.db, ADMIN, "ci", "write", 3600).unwrap();
    let (s, body) = app
        .api_json(
            reqwest::Method::POST,
            "/api/v1/secrets",
            Some(&token),
            Some(serde_json::json!({"name": "quay", "type": "image_pull",
                "registry_host": "https://quay.io/v2/", "username": "u", "password": "p",
                "deliver": true})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["registry_host"], "quay.io");
    let config = app
        .api(
            reqwest::Method::GET,
            "/api/v1/secrets/quay/dockerconfig",
            Some(&token),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(config.contains("\"quay.io\""), "{config}");
}

#[tokio::test]
async fn editing_keeps_a_blank_password_and_clears_a_display_name() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u1", TOKEN)
        .await;
    let edit = app.get_html("/admin/secrets/gitlab").await;
    assert!(edit.contains("readonly"), "name and type are read-only");
    let version = version_in(&edit);
    let r = app
        .post(
            "/admin/secrets/gitlab",
            &[
                ("display_name", ""),
                ("registry_host", "registry.gitlab.com:443"),
                ("username", "u2"),
                ("password", ""),
                ("version", &version),
                ("name", "renamed"),
                ("type", "git_sync"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    assert!(
        app.get_html("/admin/secrets")
            .await
            .contains("Secret gitlab updated.")
    );
    assert_eq!(
        app.open_secret("gitlab"),
        TOKEN,
        "blank password keeps the stored one"
    );
    let (display, user, kind): (String, String, String) = app
        .db()
        .query_row(
            "SELECT display_name, registry_username, kind FROM secrets WHERE name = 'gitlab'",
            (),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (display.as_str(), user.as_str(), kind.as_str()),
        ("", "u2", "image_pull")
    );
    assert_eq!(
        app.get("/admin/secrets/renamed").await.status(),
        StatusCode::NOT_FOUND
    );

    // A new password replaces it.
    let edit = app.get_html("/admin/secrets/gitlab").await;
    let version = version_in(&edit);
    let r = app
        .post(
            "/admin/secrets/gitlab",
            &[
                ("registry_host", "registry.gitlab.com"),
                ("username", "u2"),
                ("password", "new-token"),
                ("version", &version),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    assert_eq!(app.open_secret("gitlab"), "new-token");
}

#[tokio::test]
async fn a_stale_edit_is_refused_with_the_current_values() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u1", TOKEN)
        .await;
    let fields = |user: &'static str| {
        vec![
            ("registry_host", "registry.gitlab.com"),
            ("username", user),
            ("password", ""),
            ("version", "1"),
        ]
    };
    assert_redirect_to(
        &app.post("/admin/secrets/gitlab", &fields("first")).await,
        "/admin/secrets",
    );
    let before = app.digest();
    let r = app.post("/admin/secrets/gitlab", &fields("second")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(body.contains("This secret was changed by someone else since you opened it"));
    assert!(body.contains(r#"value="first""#));
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn invalid_edits_are_422_and_change_nothing() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u1", TOKEN)
        .await;
    let before = app.digest();
    let r = app
        .post(
            "/admin/secrets/gitlab",
            &[
                ("registry_host", "bad host"),
                ("username", ""),
                ("password", ""),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("must not contain spaces") && body.contains("Username is required."));
    assert!(body.contains(r#"value="bad host""#));
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn delete_asks_first_then_deletes() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab Registry", "registry.gitlab.com", "u", "p")
        .await;
    let page = app.get_html("/admin/secrets/gitlab/delete").await;
    assert!(page.contains("Are you sure to delete GitLab Registry secret?"));
    assert!(page.contains("Yes") && page.contains("Cancel"));
    let r = app.post("/admin/secrets/gitlab/delete", &[]).await;
    assert_redirect_to(&r, "/admin/secrets");
    assert!(
        app.get_html("/admin/secrets")
            .await
            .contains("Secret gitlab deleted.")
    );
    assert_eq!(
        app.get("/admin/secrets/gitlab").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post("/admin/secrets/gitlab/delete", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/admin/secrets/gitlab/delete").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unknown_names_are_404() {
    let app = spawn_app().await;
    app.login_admin().await;
    for path in [
        "/admin/secrets/nope",
        "/admin/secrets/nope/delete",
        "/admin/secrets/%00",
        "/admin/secrets/..%2f..%2fetc",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let r = app
        .post(
            "/admin/secrets/nope",
            &[("username", "u"), ("registry_host", "ghcr.io")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_searches_sorts_and_pages() {
    let app = spawn_app().await;
    app.login_admin().await;
    {
        let c = app.db();
        for i in 0..60 {
            c.execute(
                "INSERT INTO secrets (name, display_name, kind, registry_host, registry_username, sealed, created_at, updated_at)
                 VALUES (?1, ?2, 'image_pull', 'ghcr.io', 'u', ?4, ?3, ?3)",
                rusqlite::params![format!("s{i:03}"), format!("Team {}", 59 - i), 1_700_000_000 + i, vec![0u8]],
            )
            .unwrap();
        }
    }
    let first = app.get_html("/admin/secrets").await;
    assert!(first.contains("s000") && first.contains("s049") && !first.contains("s050"));
    assert!(first.contains("Showing 1–50 of 60"));
    let second = app.get_html("/admin/secrets?page=2").await;
    assert!(second.contains("s050") && second.contains("s059") && !second.contains(">s049<"));
    let past = app.get("/admin/secrets?page=9").await;
    assert_eq!(past.status(), StatusCode::OK);
    assert!(!past.text().await.unwrap().contains("s000"));
    let desc = app.get_html("/admin/secrets?sort=name&dir=desc").await;
    assert!(desc.find("s059").unwrap() < desc.find("s058").unwrap());
    let by_updated = app.get_html("/admin/secrets?sort=updated&dir=desc").await;
    assert!(by_updated.find("s059").unwrap() < by_updated.find("s010").unwrap());
    let bad = app.get("/admin/secrets?sort=evil%27&dir=up&page=-1").await;
    assert_eq!(bad.status(), StatusCode::OK);
    assert!(bad.text().await.unwrap().contains("s000"));
    let search = app.get_html("/admin/secrets?q=Team+5").await;
    assert!(
        search.contains("Showing 1–11 of 11"),
        "Team 5 and Team 50..59"
    );
    let search = app.get_html("/admin/secrets?q=s00").await;
    assert!(search.contains("of 10"));
    let none = app.get_html("/admin/secrets?q=%25").await;
    assert!(none.contains("No secret matches"), "% is literal");
}

#[tokio::test]
async fn data_survives_a_restart() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", TOKEN)
        .await;
    let restarted = spawn_app_in(Some(app.dir)).await;
    assert_redirect_to(
        &restarted.login(ADMIN, ADMIN_PASSWORD).await,
        "/admin/secrets",
    );
    assert!(
        restarted
            .get_html("/admin/secrets")
            .await
            .contains("GitLab")
    );
    assert_eq!(restarted.open_secret("gitlab"), TOKEN);
}

#[tokio::test]
async fn search_follows_creates_edits_and_deletes() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "Platform Team", "registry.gitlab.com", "u", "p")
        .await;
    assert!(
        app.get_html("/admin/secrets?q=platform")
            .await
            .contains("Showing 1–1 of 1")
    );
    assert!(
        app.get_html("/admin/secrets?q=GITL")
            .await
            .contains("Showing 1–1 of 1"),
        "case-insensitive"
    );
    assert!(
        app.get_html("/admin/secrets?q=m+T")
            .await
            .contains("Showing 1–1 of 1"),
        "short text scans"
    );
    app.post(
        "/admin/secrets/gitlab",
        &[
            ("display_name", "Data Science"),
            ("registry_host", "registry.gitlab.com"),
            ("username", "u"),
            ("version", "1"),
        ],
    )
    .await;
    assert!(
        app.get_html("/admin/secrets?q=platform")
            .await
            .contains("No secret matches")
    );
    assert!(
        app.get_html("/admin/secrets?q=science")
            .await
            .contains("Showing 1–1 of 1")
    );
    assert!(
        app.get_html("/admin/secrets?q=%22sci")
            .await
            .contains("No secret matches"),
        "quotes are text"
    );
    app.post("/admin/secrets/gitlab/delete", &[]).await;
    assert!(
        app.get_html("/admin/secrets?q=science")
            .await
            .contains("No secret matches")
    );
}

/// The list keeps its orders and search index in memory; a write by
/// another process on the same file (here a plain connection, as `wharf`
/// or sqlite3 would make) shows on the very next request.
#[tokio::test]
async fn the_cached_list_sees_writes_from_outside_the_server_at_once() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("alpha", "Platform", "registry.gitlab.com", "u", "p")
        .await;
    app.create_secret("beta", "Science", "registry.gitlab.com", "u", "p")
        .await;
    // Fill the caches: the order by name and by label, and the search.
    let list = app.get_html("/admin/secrets").await;
    assert!(list.find(">alpha<").unwrap() < list.find(">beta<").unwrap());
    app.get_html("/admin/secrets?sort=display_name").await;
    assert!(
        app.get_html("/admin/secrets?q=scien")
            .await
            .contains("Showing 1–1 of 1")
    );

    app.db()
        .execute(
            "UPDATE secrets SET display_name = 'Astronomy' WHERE name = 'beta'",
            (),
        )
        .unwrap();
    assert!(
        app.get_html("/admin/secrets?q=scien")
            .await
            .contains("No secret matches")
    );
    assert!(
        app.get_html("/admin/secrets?q=astro")
            .await
            .contains("Showing 1–1 of 1")
    );
    let by_label = app.get_html("/admin/secrets?sort=display_name").await;
    assert!(by_label.find(">beta<").unwrap() < by_label.find(">alpha<").unwrap());

    // The counts above the list and a row's kept HTML follow too.
    let list = app.get_html("/admin/secrets").await;
    assert!(!list.contains("failing") && !list.contains("login failed"));
    app.db()
        .execute(
            "UPDATE secrets SET last_test_at = 1, last_test_ok = 0, last_test_message = 'no'
             WHERE name = 'beta'",
            (),
        )
        .unwrap();
    let list = app.get_html("/admin/secrets").await;
    assert!(list.contains("1 failing") && list.contains("✗ login failed"));

    app.db()
        .execute("DELETE FROM secrets WHERE name = 'alpha'", ())
        .unwrap();
    let list = app.get_html("/admin/secrets").await;
    assert!(!list.contains(">alpha<") && list.contains("Showing 1–1 of 1"));
}
