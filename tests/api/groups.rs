//! Groups: who sees which image, as in PrimeHub.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

/// Posts a form whose `members`/`groups` repeat (reqwest's form encoder
/// takes pairs, so repeated keys are kept).
async fn post_pairs(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    app.post(path, pairs).await
}

async fn catalogue_of(app: &TestApp, user: &str, password: &str, path: &str) -> String {
    let b = app.another_browser();
    assert_redirect_to(&b.login(user, password).await, "/");
    b.get_html(path).await
}

#[tokio::test]
async fn members_see_their_groups_images_and_nobody_else_does() {
    let app = vision_world().await;
    let dana = catalogue_of(&app, "dana", "danas-long-password", "/").await;
    assert!(
        dana.contains("shared-nb") && dana.contains("vision-gpu"),
        "{dana}"
    );
    assert!(dana.contains("Vision team") && dana.contains("Global"));
    let eve = catalogue_of(&app, "eve", "eves-long-password", "/").await;
    assert!(eve.contains("shared-nb"));
    assert!(!eve.contains("vision-gpu"), "a non-member never sees it");
    // Guessing the name does not help: the image pages are the admins'.
    let b = app.another_browser();
    b.login("eve", "eves-long-password").await;
    assert_eq!(
        b.get("/admin/images/vision-gpu").await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(
        !b.get_html("/?q=vision-gpu")
            .await
            .contains("<h2>vision-gpu")
    );
    assert!(
        !b.get_html("/?group=vision")
            .await
            .contains("<h2>vision-gpu")
    );
    // Administrators see every image.
    let admin = app.get_html("/").await;
    assert!(admin.contains("vision-gpu") && admin.contains("shared-nb"));
}

#[tokio::test]
async fn the_group_filter_shows_one_of_your_groups() {
    let app = vision_world().await;
    let dana = catalogue_of(&app, "dana", "danas-long-password", "/?group=vision").await;
    assert!(
        dana.contains("vision-gpu") && !dana.contains("shared-nb"),
        "{dana}"
    );
    assert!(dana.contains("Your groups:"));
}

#[tokio::test]
async fn leaving_a_group_takes_its_images_away_on_the_next_load() {
    let app = vision_world().await;
    let dana = app.another_browser();
    dana.login("dana", "danas-long-password").await;
    assert!(dana.get_html("/").await.contains("vision-gpu"));
    let version = version_in(&app.get_html("/admin/groups/vision").await);
    let r = app
        .post(
            "/admin/groups/vision",
            &[("display_name", "Vision team"), ("version", &version)],
        )
        .await;
    assert_redirect_to(&r, "/admin/groups");
    assert!(!dana.get_html("/").await.contains("vision-gpu"));
    assert!(app.get_html("/admin/groups").await.contains(">0</td>"));
}

#[tokio::test]
async fn deleting_a_group_names_the_images_that_lose_it_and_keeps_them() {
    let app = vision_world().await;
    let confirm = app.get_html("/admin/groups/vision/delete").await;
    assert!(confirm.contains("Are you sure to delete Vision team group?"));
    assert!(confirm.contains("vision-gpu") && confirm.contains("will lose the group"));
    assert_redirect_to(
        &app.post("/admin/groups/vision/delete", &[]).await,
        "/admin/groups",
    );
    assert!(
        app.get_html("/admin/groups")
            .await
            .contains("Group vision deleted.")
    );
    let images = app.get_html("/admin/images").await;
    assert!(
        images.contains("vision-gpu") && images.contains("No group"),
        "{images}"
    );
    let links: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM image_groups", (), |r| r.get(0))
        .unwrap();
    assert_eq!(links, 0);
    let log = app.get_html("/admin/audit").await;
    assert!(log.contains("group deleted") && log.contains("group created"));
}

#[tokio::test]
async fn deleting_a_user_removes_their_memberships() {
    let app = vision_world().await;
    assert!(
        app.get_html("/admin/users/dana")
            .await
            .contains("Vision team")
    );
    app.post("/admin/users/dana/delete", &[]).await;
    let members: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM group_members", (), |r| r.get(0))
        .unwrap();
    assert_eq!(members, 0);
}

#[tokio::test]
async fn group_forms_check_their_fields_and_keep_them() {
    let app = vision_world().await;
    let before = app.digest();
    for (name, message) in [
        ("Vision", "Name may contain only"),
        ("vision", "A group named vision already exists."),
        ("new", "is reserved"),
        ("a.b", "Name may contain only"),
    ] {
        let r = app
            .post(
                "/admin/groups",
                &[("name", name), ("display_name", "Kept"), ("members", "eve")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let page = r.text().await.unwrap();
        assert!(page.contains(message), "{name}: {page}");
        assert!(page.contains(r#"value="Kept""#));
        assert!(
            page.contains(r#"value="eve" checked"#),
            "members stay ticked"
        );
    }
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn a_non_global_image_without_a_group_is_allowed_with_a_warning() {
    let app = vision_world().await;
    let r = app
        .post(
            "/admin/images",
            &[("name", "lonely"), ("url", "ubuntu:24.04")],
        )
        .await;
    assert_redirect_to(&r, "/admin/images");
    assert!(app.get_html("/admin/images").await.contains("⚠ No group"));
    let form = app.get_html("/admin/images/lonely").await;
    assert!(form.contains("No group: only administrators see this image"));
    // A new image's form starts Global.
    let new = app.get_html("/admin/images/new").await;
    assert!(
        new.contains(r#"name="global" type="checkbox" value="on" checked"#),
        "{new}"
    );
    // Global and groups: global wins and keeps no groups.
    let r = app
        .post(
            "/admin/images",
            &[
                ("name", "both"),
                ("url", "ubuntu:24.04"),
                ("global", "on"),
                ("groups", "vision"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/images");
    let linked: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM image_groups ig JOIN images i ON i.id = ig.image_id WHERE i.name = 'both'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(linked, 0);
    let r = app
        .post(
            "/admin/images",
            &[
                ("name", "ghost"),
                ("url", "ubuntu:24.04"),
                ("groups", "no-such"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("There is no group named no-such.")
    );
}

#[tokio::test]
async fn images_made_before_groups_are_global() {
    let app = spawn_app().await;
    app.db()
        .execute(
            "INSERT INTO images (name, image_type, url, created_at, updated_at)
             VALUES ('old', 'cpu', 'ubuntu', 0, 0)",
            (),
        )
        .unwrap();
    let global: bool = app
        .db()
        .query_row("SELECT global FROM images WHERE name = 'old'", (), |r| {
            r.get(0)
        })
        .unwrap();
    assert!(global);
}

#[tokio::test]
async fn the_api_manages_groups_and_narrows_the_catalogue() {
    let app = vision_world().await;
    let admin = wharf::cli::token_create(&app.db, ADMIN, "ops", "write", 3600).unwrap();
    let eve = wharf::cli::token_create(&app.db, "eve", "laptop", "read", 3600).unwrap();
    let dana = wharf::cli::token_create(&app.db, "dana", "laptop", "read", 3600).unwrap();

    let (s, g) = app
        .api_json(Method::GET, "/api/v1/groups/vision", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(g["members"], serde_json::json!(["dana"]));
    let (s, _) = app
        .api_json(
            Method::POST,
            "/api/v1/groups",
            Some(&admin),
            Some(serde_json::json!({"name": "nlp", "display_name": "NLP", "members": ["eve"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, img) = app
        .api_json(
            Method::POST,
            "/api/v1/images",
            Some(&admin),
            Some(
                serde_json::json!({"name": "nlp-nb", "url": "registry.example.com/nlp:1",
                "global": false, "groups": ["nlp"]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(img["global"], false);
    assert_eq!(img["groups"], serde_json::json!(["nlp"]));

    let names = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, cat) = app
        .api_json(Method::GET, "/api/v1/catalogue", Some(&eve), None)
        .await;
    let got: std::collections::BTreeSet<String> = names(&cat).into_iter().collect();
    let want: std::collections::BTreeSet<String> = ["nlp-nb", "shared-nb"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, want);
    assert!(!names(&cat).contains(&"vision-gpu".to_owned()));
    // Not eve's group: the same 404 as a group that does not exist.
    let (s, cat) = app
        .api_json(
            Method::GET,
            "/api/v1/catalogue?group=vision",
            Some(&eve),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(cat["detail"], "You are in no group named vision.");
    let (_, cat) = app
        .api_json(Method::GET, "/api/v1/catalogue", Some(&dana), None)
        .await;
    assert!(
        names(&cat).contains(&"vision-gpu".to_owned())
            && !names(&cat).contains(&"nlp-nb".to_owned())
    );
    // A non-admin token cannot read groups.
    let (s, _) = app
        .api_json(Method::GET, "/api/v1/groups", Some(&eve), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Membership through the API takes effect at once.
    let (s, _) = app
        .api_json(
            Method::PATCH,
            "/api/v1/groups/nlp",
            Some(&admin),
            Some(serde_json::json!({"members": []})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, cat) = app
        .api_json(Method::GET, "/api/v1/catalogue", Some(&eve), None)
        .await;
    assert!(!names(&cat).contains(&"nlp-nb".to_owned()));
    let (s, _) = app
        .api_json(Method::DELETE, "/api/v1/groups/nlp", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, img) = app
        .api_json(Method::GET, "/api/v1/images/nlp-nb", Some(&admin), None)
        .await;
    assert_eq!(img["groups"], serde_json::json!([]));
}

#[tokio::test]
async fn a_card_names_only_the_viewers_own_groups() {
    let app = vision_world().await;
    let r = app
        .post(
            "/admin/groups",
            &[
                ("name", "nlp"),
                ("display_name", "NLP team"),
                ("members", "eve"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/groups");
    let version = version_in(&app.get_html("/admin/images/vision-gpu").await);
    let r = app
        .post(
            "/admin/images/vision-gpu",
            &[
                ("url", "registry.example.com/team/nb:1"),
                ("image_type", "gpu"),
                ("groups", "vision"),
                ("groups", "nlp"),
                ("version", &version),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/images");
    let eve = catalogue_of(&app, "eve", "eves-long-password", "/").await;
    assert!(
        eve.contains("<h2>vision-gpu") && eve.contains("NLP team"),
        "{eve}"
    );
    assert!(
        !eve.contains("Vision team"),
        "another group's name is not eve's to see"
    );
}

/// Eve in nlp; an image `both-nb` for nlp and vision, pulled with `gitlab`.
async fn world_with_a_shared_image() -> TestApp {
    let app = vision_world().await;
    app.create_secret(
        "gitlab",
        "GitLab",
        "registry.example.com",
        "deployer",
        "glpat-1234",
    )
    .await;
    let r = post_pairs(
        &app,
        "/admin/groups",
        &[("name", "nlp"), ("display_name", "NLP"), ("members", "eve")],
    )
    .await;
    assert_redirect_to(&r, "/admin/groups");
    let r = post_pairs(
        &app,
        "/admin/images",
        &[
            ("name", "both-nb"),
            ("url", "registry.example.com/team/both:1"),
            ("image_type", "cpu"),
            ("use_pull_secret", "on"),
            ("pull_secret", "gitlab"),
            ("groups", "nlp"),
            ("groups", "vision"),
        ],
    )
    .await;
    assert_redirect_to(&r, "/admin/images");
    app
}

#[tokio::test]
async fn a_group_you_are_not_in_answers_as_one_that_does_not_exist() {
    let app = world_with_a_shared_image().await;
    let eve = app.another_browser();
    assert_redirect_to(&eve.login("eve", "eves-long-password").await, "/");
    // Her own group shows the image.
    assert!(eve.get_html("/?group=nlp").await.contains("both-nb"));
    // vision exists and both-nb is in it, but vision is not hers: the page
    // says the same as for a name that is no group at all.
    let probe = eve.get("/?group=vision").await;
    assert_eq!(probe.status(), StatusCode::NOT_FOUND);
    let probe = probe.text().await.unwrap();
    let unknown = eve.get("/?group=no-such-team").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let unknown = unknown.text().await.unwrap();
    assert!(
        probe.contains("You are in no group named vision."),
        "{probe}"
    );
    assert!(!probe.contains("both-nb"));
    assert_eq!(
        probe.replace("vision", "X"),
        unknown.replace("no-such-team", "X"),
        "a member of no group learns nothing from the answer"
    );

    let token = wharf::cli::token_create(&app.db, "eve", "laptop", "read", 3600).unwrap();
    let (s1, a) = app
        .api_json(
            Method::GET,
            "/api/v1/catalogue?group=vision",
            Some(&token),
            None,
        )
        .await;
    let (s2, b) = app
        .api_json(
            Method::GET,
            "/api/v1/catalogue?group=no-such-team",
            Some(&token),
            None,
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(a["detail"], "You are in no group named vision.");
    assert_eq!(b["detail"], "You are in no group named no-such-team.");
    // An administrator may filter by any group; a name that is none is 404.
    let admin = wharf::cli::token_create(&app.db, ADMIN, "ops", "read", 3600).unwrap();
    let (s, v) = app
        .api_json(
            Method::GET,
            "/api/v1/catalogue?group=vision",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], 2);
    let (s, _) = app
        .api_json(
            Method::GET,
            "/api/v1/catalogue?group=no-such-team",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_api_catalogue_never_names_a_secret_to_members() {
    let app = world_with_a_shared_image().await;
    let eve = wharf::cli::token_create(&app.db, "eve", "laptop", "read", 3600).unwrap();
    let (s, cat) = app
        .api_json(Method::GET, "/api/v1/catalogue", Some(&eve), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = cat.to_string();
    assert!(
        !text.contains("gitlab") && !text.contains("pull_secret"),
        "{text}"
    );
    let item = |v: &serde_json::Value, name: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(item(&cat, "both-nb")["private"], true);
    assert_eq!(item(&cat, "shared-nb")["private"], false);
    // Eve is not in vision: the card names only her own group.
    assert_eq!(item(&cat, "both-nb")["groups"], serde_json::json!(["nlp"]));
    let admin = wharf::cli::token_create(&app.db, ADMIN, "ops", "read", 3600).unwrap();
    let (_, cat) = app
        .api_json(Method::GET, "/api/v1/catalogue", Some(&admin), None)
        .await;
    assert_eq!(item(&cat, "both-nb")["pull_secret"], "gitlab");
    assert_eq!(item(&cat, "both-nb")["private"], true);
}
