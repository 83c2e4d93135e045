use reqwest::StatusCode;

use crate::helpers::*;

async fn create_image(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.post("/admin/images", fields).await
}

#[tokio::test]
async fn an_image_uses_the_gitlab_secret() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    app.create_git_sync("repo", SSH_KEY).await;
    let form = app.get_html("/admin/images/new").await;
    for label in [
        "Container Image URL",
        "Specific Container Image URL for GPU",
        "Use Image Pull Secret",
        "Image Pull Secret",
        "Universal",
        "Description",
    ] {
        assert!(form.contains(label), "{label}");
    }
    assert!(form.contains(r#"<option value="gitlab" >GitLab</option>"#));
    assert!(
        !form.contains(r#"value="repo""#),
        "Git Sync secrets are not offered"
    );

    let r = create_image(
        &app,
        &[
            ("name", "notebook"),
            ("display_name", "Team Notebook"),
            ("image_type", "both"),
            ("url", "registry.gitlab.com/team/notebook:v1"),
            ("use_pull_secret", "on"),
            ("pull_secret", "gitlab"),
        ],
    )
    .await;
    assert_redirect_to(&r, "/admin/images");
    let list = app.get_html("/admin/images").await;
    assert!(list.contains("Image notebook created."));
    assert!(
        list.contains("Team Notebook")
            && list.contains("registry.gitlab.com/team/notebook:v1")
            && list.contains(">GitLab</a>")
    );
    assert!(!list.contains("other registry"));

    // The secret knows its user.
    let secrets = app.get_html("/admin/secrets").await;
    assert!(secrets.contains(r#"<td class="num">1</td>"#));
    let edit = app.get_html("/admin/secrets/gitlab").await;
    assert!(edit.contains(r#"<a href="/admin/images/notebook">Team Notebook</a>"#));
}

#[tokio::test]
async fn a_secret_in_use_cannot_be_deleted() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    create_image(
        &app,
        &[
            ("name", "nb"),
            ("display_name", "Notebook"),
            ("url", "registry.gitlab.com/a/b"),
            ("use_pull_secret", "on"),
            ("pull_secret", "gitlab"),
        ],
    )
    .await;
    let before = app.digest();
    for r in [
        app.get("/admin/secrets/gitlab/delete").await,
        app.post("/admin/secrets/gitlab/delete", &[]).await,
    ] {
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let body = r.text().await.unwrap();
        assert!(body.contains("Notebook") && body.contains("cannot be deleted"));
        assert!(!body.contains(">Yes<"));
    }
    assert_eq!(app.digest(), before);
    // The schema refuses it too.
    let err = app
        .db()
        .execute("DELETE FROM secrets WHERE name = 'gitlab'", ());
    assert!(err.is_err());
    // Once the image lets go, it can.
    assert_redirect_to(
        &app.post("/admin/images/nb/delete", &[]).await,
        "/admin/images",
    );
    assert_redirect_to(
        &app.post("/admin/secrets/gitlab/delete", &[]).await,
        "/admin/secrets",
    );
}

#[tokio::test]
async fn bad_image_forms_are_422_and_store_nothing() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    app.create_git_sync("repo", SSH_KEY).await;
    let before = app.digest();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("name", "a")], "Container Image URL is required."),
        (
            &[("name", "a"), ("url", "https://registry.gitlab.com/x")],
            "leave out the scheme",
        ),
        (
            &[("name", "a"), ("url", "Not/Valid")],
            "not a valid image reference",
        ),
        (
            &[
                ("name", "a"),
                ("url", "ubuntu"),
                ("image_type", "cpu"),
                ("url_for_gpu", "nvidia/cuda:12"),
            ],
            "only for Universal",
        ),
        (
            &[
                ("name", "a"),
                ("url", "ubuntu"),
                ("use_pull_secret", "on"),
                ("pull_secret", "ghost"),
            ],
            "There is no Image Pull secret named ghost.",
        ),
        (
            &[
                ("name", "a"),
                ("url", "ubuntu"),
                ("use_pull_secret", "on"),
                ("pull_secret", "repo"),
            ],
            "There is no Image Pull secret named repo.",
        ),
        (
            &[("name", "a"), ("url", "ubuntu"), ("use_pull_secret", "on")],
            "Choose an Image Pull Secret",
        ),
        (
            &[("name", "a"), ("url", "ubuntu"), ("image_type", "tpu")],
            "Choose a type",
        ),
    ];
    for (fields, message) in cases {
        let r = create_image(&app, fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(r.text().await.unwrap().contains(message), "{message}");
    }
    let long = "d".repeat(2001);
    let r = create_image(
        &app,
        &[("name", "a"), ("url", "ubuntu"), ("description", &long)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn a_secret_for_another_registry_warns_but_saves() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("ghcr", "GitHub", "ghcr.io", "u", "p")
        .await;
    let r = create_image(
        &app,
        &[
            ("name", "nb"),
            ("url", "registry.gitlab.com/a/b:1"),
            ("use_pull_secret", "on"),
            ("pull_secret", "ghcr"),
        ],
    )
    .await;
    assert_redirect_to(&r, "/admin/images");
    assert!(
        app.get_html("/admin/images")
            .await
            .contains("other registry")
    );
    let edit = app.get_html("/admin/images/nb").await;
    assert!(edit.contains("Secret GitHub is for ghcr.io, but the image is on registry.gitlab.com"));
    // Docker Hub's aliases are one registry.
    app.create_secret("hub", "Hub", "https://index.docker.io/v1/", "u", "p")
        .await;
    create_image(
        &app,
        &[
            ("name", "py"),
            ("url", "python:3.12"),
            ("use_pull_secret", "on"),
            ("pull_secret", "hub"),
        ],
    )
    .await;
    assert!(
        !app.get_html("/admin/images/py")
            .await
            .contains("but the image is on")
    );
}

#[tokio::test]
async fn images_are_edited_and_deleted() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    create_image(
        &app,
        &[
            ("name", "nb"),
            ("url", "registry.gitlab.com/a/b:1"),
            ("use_pull_secret", "on"),
            ("pull_secret", "gitlab"),
        ],
    )
    .await;
    let r = app
        .post(
            "/admin/images/nb",
            &[
                ("display_name", "NB"),
                ("image_type", "both"),
                ("url", "registry.gitlab.com/a/b:2"),
                ("url_for_gpu", "registry.gitlab.com/a/b:2-cuda"),
                ("version", "1"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/images");
    let list = app.get_html("/admin/images").await;
    assert!(list.contains("Image nb updated.") && list.contains("a/b:2-cuda"));
    assert!(
        app.get_html("/admin/secrets")
            .await
            .contains(r#"<td class="num">0</td>"#),
        "unticked box drops the secret"
    );
    let r = app
        .post("/admin/images/nb", &[("url", "ubuntu"), ("version", "1")])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        app.get_html("/admin/images/nb/delete")
            .await
            .contains("Are you sure to delete NB image?")
    );
    assert_redirect_to(
        &app.post("/admin/images/nb/delete", &[]).await,
        "/admin/images",
    );
    assert!(
        app.get_html("/admin/images")
            .await
            .contains("Image nb deleted.")
    );
    assert_eq!(
        app.get("/admin/images/nb").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_catalogue_shows_images_but_no_credentials() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret(
        "gitlab",
        "GitLab",
        "registry.gitlab.com",
        "deploy-user-name",
        "p",
    )
    .await;
    create_image(
        &app,
        &[
            ("name", "nb"),
            ("display_name", "Notebook"),
            ("description", "Jupyter with PyTorch"),
            ("url", "registry.gitlab.com/a/b:1"),
            ("use_pull_secret", "on"),
            ("pull_secret", "gitlab"),
            ("global", "on"),
        ],
    )
    .await;
    app.add_user("dev", "long-enough-pw", false);
    let user = app.another_browser();
    user.login("dev", "long-enough-pw").await;
    let page = user.get_html("/").await;
    assert!(
        page.contains("Notebook")
            && page.contains("Jupyter with PyTorch")
            && page.contains("registry.gitlab.com/a/b:1")
    );
    assert!(page.contains("Private image"));
    assert!(!page.contains("deploy-user-name") && !page.contains("Admin Portal"));
}

#[tokio::test]
async fn the_type_column_sorts_by_what_people_read() {
    let app = spawn_app().await;
    app.login_admin().await;
    for (name, t) in [("a-universal", "both"), ("b-gpu", "gpu"), ("c-cpu", "cpu")] {
        assert_redirect_to(
            &app.post(
                "/admin/images",
                &[("name", name), ("image_type", t), ("url", "ubuntu")],
            )
            .await,
            "/admin/images",
        );
    }
    let page = app.get_html("/admin/images?sort=type").await;
    let pos = |n: &str| page.find(&format!(">{n}</a>")).unwrap();
    assert!(
        pos("c-cpu") < pos("b-gpu") && pos("b-gpu") < pos("a-universal"),
        "CPU, GPU, Universal"
    );
}

#[tokio::test]
async fn images_are_searched_as_secrets_are() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret(
        "alpha-key",
        "Team ÄLPHA key",
        "registry.example.com",
        "u",
        "p-1234567",
    )
    .await;
    for (name, display) in [("alpha-nb", "Team ÄLPHA notebook"), ("beta-nb", "Beta")] {
        let r = create_image(
            &app,
            &[
                ("name", name),
                ("display_name", display),
                ("image_type", "cpu"),
                ("url", "registry.example.com/team/nb:1"),
                ("global", "on"),
            ],
        )
        .await;
        assert_redirect_to(&r, "/admin/images");
    }
    // (The flash of the last create is shown once, here.)
    app.get_html("/admin/images").await;
    // Two characters, not ASCII, another case: the same rule everywhere
    // (before, images matched three characters and more by trigram and
    // fewer with LIKE, which folds ASCII only).
    for q in ["äl", "ÄL", "lpha n"] {
        let path = format!("/admin/images?q={}", urlencoding(q));
        let images = app.get_html(&path).await;
        assert!(
            images.contains("alpha-nb") && !images.contains("beta-nb"),
            "{q}: {images}"
        );
        let catalogue = app.get_html(&format!("/?q={}", urlencoding(q))).await;
        assert!(
            catalogue.contains("Team ÄLPHA notebook") && !catalogue.contains(">Beta<"),
            "{q}"
        );
    }
    let secrets = app
        .get_html(&format!("/admin/secrets?q={}", urlencoding("äl")))
        .await;
    assert!(secrets.contains("alpha-key"), "{secrets}");
}

fn urlencoding(q: &str) -> String {
    percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC).to_string()
}
