//! What leaves the portal: kubectl-identical manifests, docker config files
//! accepted by skopeo against a real `docker-registry`, and "Test login".

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn token_3k() -> String {
    (0..3000u32)
        .map(|i| char::from(b'a' + ((i * 7) % 26) as u8))
        .collect()
}

async fn body(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn manifests_are_byte_for_byte_what_kubectl_prints() {
    let app = spawn_app().await;
    app.login_admin().await;
    // The fixtures are kubectl v1.32's own output for the same inputs
    // (see tests/fixtures); the host "docker.io" is stored as kubelet's key.
    app.create_secret(
        "gitlab-registry",
        "",
        "registry.gitlab.com",
        "gitlab+deploy-token-78108",
        "glpat-&<>\"\\:é€😀",
    )
    .await;
    app.create_secret("hub", "", "docker.io", "me", &token_3k())
        .await;
    app.create_secret("2024-01-31", "", "localhost:5000", "robot$ci", "p w\ttab")
        .await;
    app.create_git_sync("repo-key", &SSH_KEY.replace('\n', "\r\n"))
        .await;

    for (path, fixture_name) in [
        (
            "/admin/secrets/gitlab-registry/manifest.yaml",
            "docker-a.yaml",
        ),
        (
            "/admin/secrets/gitlab-registry/manifest.json",
            "docker-a.json",
        ),
        (
            "/admin/secrets/gitlab-registry/manifest.yaml?namespace=",
            "docker-a.yaml",
        ),
        (
            "/admin/secrets/hub/manifest.yaml?namespace=ml-team",
            "docker-b.yaml",
        ),
        (
            "/admin/secrets/hub/manifest.json?namespace=ml-team",
            "docker-b.json",
        ),
        (
            "/admin/secrets/2024-01-31/manifest.yaml?namespace=1e5",
            "docker-c.yaml",
        ),
        (
            "/admin/secrets/2024-01-31/manifest.json?namespace=1e5",
            "docker-c.json",
        ),
        (
            "/admin/secrets/repo-key/manifest.yaml?namespace=ml",
            "ssh.yaml",
        ),
        (
            "/admin/secrets/repo-key/manifest.json?namespace=ml",
            "ssh.json",
        ),
    ] {
        assert_eq!(body(&app, path).await, fixture(fixture_name), "{path}");
    }

    let export = body(&app, "/admin/secrets/export.yaml?namespace=1e5").await;
    let docs: Vec<&str> = export.split("---\n").collect();
    assert_eq!(docs.len(), 4);
    assert_eq!(docs[0], fixture("docker-c.yaml"), "sorted by name");
    assert!(docs.iter().all(|d| d.contains("namespace: \"1e5\"")));
}

#[tokio::test]
async fn manifests_match_the_installed_kubectl() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!(
            "kubectl is not installed here: the fixed kubectl outputs in tests/fixtures cover this"
        );
        return;
    }
    let app = spawn_app().await;
    app.login_admin().await;
    let cases = [
        ("ghcr", "ghcr.io", "octo-cat", "ghp_<script>&amp;"),
        (
            "ecr",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "AWS",
            &"eyJwYXlsb2FkIjoi".repeat(200),
        ),
        (
            "plain-http",
            "http://10.0.0.5:5000",
            "ünïcode-üser",
            "pässwörd\u{2028}",
        ),
        (
            "quay",
            "https://quay.io/v2/",
            "org+robot",
            "tab\there\u{1}ctl",
        ),
        (
            "true",
            "gcr.io",
            "_json_key",
            "{\"type\": \"service_account\"}",
        ),
    ];
    for (name, typed, user, pw) in cases {
        app.create_secret(name, "", typed, user, pw).await;
        // kubectl is given the server as wharf keeps it (a URL such as
        // https://quay.io/v2/ is kept as quay.io, the key clients look up).
        let host: String = app
            .db()
            .query_row(
                "SELECT registry_host FROM secrets WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap();
        for (fmt, ns) in [
            ("yaml", None),
            ("json", None),
            ("yaml", Some("team-a")),
            ("json", Some("0")),
        ] {
            let mut cmd = Command::new("kubectl");
            cmd.args(["create", "secret", "docker-registry", name])
                .arg(format!("--docker-server={host}"))
                .arg(format!("--docker-username={user}"))
                .arg(format!("--docker-password={pw}"))
                .args(["--dry-run=client", "-o", fmt]);
            let mut path = format!("/admin/secrets/{name}/manifest.{fmt}");
            if let Some(ns) = ns {
                cmd.args(["-n", ns]);
                path.push_str(&format!("?namespace={ns}"));
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                body(&app, &path).await,
                String::from_utf8(out.stdout).unwrap(),
                "{name} {fmt} {ns:?}"
            );
        }
    }
}

/// An admin with an Image Pull and a Git Sync secret.
async fn app_with_two_secrets() -> TestApp {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "", "registry.gitlab.com", "u", "tok")
        .await;
    app.create_git_sync("repo-key", SSH_KEY).await;
    app
}

#[tokio::test]
async fn docker_config_is_the_decoded_document_of_image_pull_secrets_only() {
    let app = app_with_two_secrets().await;
    let dc = body(&app, "/admin/secrets/gitlab/dockerconfig.json").await;
    assert_eq!(
        dc,
        r#"{"auths":{"registry.gitlab.com":{"username":"u","password":"tok","auth":"dTp0b2s="}}}"#
    );
    assert_eq!(
        app.get("/admin/secrets/repo-key/dockerconfig.json")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post("/admin/secrets/repo-key/test", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    for path in [
        "/admin/secrets/nope/manifest.yaml",
        "/admin/secrets/nope/manifest.json",
        "/admin/secrets/nope/dockerconfig.json",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_namespace_must_be_a_dns_label() {
    let app = app_with_two_secrets().await;
    for bad in ["UPPER", "a.b", "-x", "x_y", "%00", &"n".repeat(64)] {
        for path in [
            "/admin/secrets/gitlab/manifest.yaml",
            "/admin/secrets/gitlab/manifest.json",
            "/admin/secrets/export.yaml",
        ] {
            let r = app.get(&format!("{path}?namespace={bad}")).await;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path} {bad}");
        }
    }
}

#[tokio::test]
async fn every_export_is_in_the_audit_log_without_its_value() {
    let app = app_with_two_secrets().await;
    assert_eq!(
        body(&app, "/admin/secrets/export.yaml")
            .await
            .matches("kind: Secret")
            .count(),
        2
    );
    body(&app, "/admin/secrets/gitlab/manifest.yaml").await;
    let audit: Vec<(String, String)> = app
        .db()
        .query_map(
            "SELECT action, target FROM audit_log WHERE action LIKE '%export%'",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(audit.contains(&("secret exported".into(), "secret/gitlab".into())));
    assert!(audit.contains(&("secrets exported".into(), "secret/*".into())));
    let log = app.get_html("/admin/audit").await;
    assert!(!log.contains("tok\"") && !log.contains("dTp0b2s"));
}

#[tokio::test]
async fn exports_are_for_administrators_only() {
    let app = app_with_two_secrets().await;
    let anonymous = client();
    let r = anonymous
        .get(app.url("/admin/secrets/gitlab/manifest.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.add_user("dev", "long-enough-pw", false);
    let user = app.another_browser();
    user.login("dev", "long-enough-pw").await;
    for path in [
        "/admin/secrets/gitlab/manifest.yaml",
        "/admin/secrets/gitlab/dockerconfig.json",
        "/admin/secrets/export.yaml",
    ] {
        let r = user.get(path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        // The password ("tok") appears nowhere as a word, nor encoded (the
        // member's own "API tokens" link is not it).
        let page = r.text().await.unwrap();
        assert!(
            !page
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == "tok")
                && !page.contains("dTp0b2s="),
            "{path}: {page}"
        );
    }
    assert_eq!(
        user.post("/admin/secrets/gitlab/test", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_damaged_stored_value_is_a_500_page_with_a_reference_and_no_secret() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret(
        "gitlab",
        "",
        "registry.gitlab.com",
        "u",
        "super-secret-token",
    )
    .await;
    let damaged: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(17)).collect();
    app.db()
        .execute(
            "UPDATE secrets SET sealed = ?1 WHERE name = 'gitlab'",
            [damaged],
        )
        .unwrap();
    let r = app.get("/admin/secrets/gitlab/manifest.yaml").await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let page = r.text().await.unwrap();
    assert!(page.contains("Reference:"));
    assert!(!page.contains("super-secret-token") && !page.contains("decrypt"));
}

/// skopeo with a private HOME, so no credentials but the ones given count.
pub fn skopeo(home: &Path) -> Command {
    let mut c = Command::new("skopeo");
    c.env("HOME", home)
        .env("XDG_RUNTIME_DIR", home)
        .env_remove("REGISTRY_AUTH_FILE")
        .arg("--insecure-policy");
    c
}

/// Builds a one-layer OCI image by hand and pushes it.
pub fn push_tiny_image(reg: &Registry, user: &str, password: &str) -> String {
    let oci = reg.dir.path().join("oci");
    let script = r#"
set -eu
mkdir -p "$OCI/blobs/sha256" "$WORK/rootfs"
echo 'hello from wharf' > "$WORK/rootfs/hello.txt"
tar --mtime=@0 --owner=0 --group=0 -C "$WORK/rootfs" -cf "$WORK/layer.tar" hello.txt
diff_id=$(sha256sum "$WORK/layer.tar" | cut -d' ' -f1)
gzip -n -c "$WORK/layer.tar" > "$WORK/layer.tar.gz"
blob() { d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$OCI/blobs/sha256/$d"; echo "$d $(stat -c %s "$1")"; }
set -- $(blob "$WORK/layer.tar.gz"); layer=$1; layer_size=$2
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff_id" > "$WORK/config.json"
set -- $(blob "$WORK/config.json"); config=$1; config_size=$2
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' "$config" "$config_size" "$layer" "$layer_size" > "$WORK/manifest.json"
set -- $(blob "$WORK/manifest.json"); manifest=$1; manifest_size=$2
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' "$manifest" "$manifest_size" > "$OCI/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$OCI/oci-layout"
"#;
    let out = Command::new("bash")
        .args(["-c", script])
        .env("OCI", &oci)
        .env("WORK", reg.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = format!("127.0.0.1:{}/wharf/tiny:1", reg.port);
    let out = skopeo(reg.dir.path())
        .args([
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("{user}:{password}"),
        ])
        .arg(format!("oci:{}:latest", oci.display()))
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo is installed");
    assert!(
        out.status.success(),
        "push: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    image
}

#[tokio::test]
async fn skopeo_and_test_login_accept_the_good_secret_and_refuse_the_bad() {
    let reg = start_registry("alice", "s3cret-pass").await;
    let image = push_tiny_image(&reg, "alice", "s3cret-pass");
    let app = spawn_app().await;
    app.login_admin().await;
    let host = format!("http://127.0.0.1:{}", reg.port);
    app.create_secret("good", "Good", &host, "alice", "s3cret-pass")
        .await;
    app.create_secret("bad", "Bad", &host, "alice", "wrong-pass")
        .await;

    for (name, should_pass) in [("good", true), ("bad", false)] {
        let config = body(&app, &format!("/admin/secrets/{name}/dockerconfig.json")).await;
        let authfile = reg.dir.path().join(format!("{name}.json"));
        std::fs::write(&authfile, config).unwrap();
        let out = skopeo(reg.dir.path())
            .args(["inspect", "--tls-verify=false", "--authfile"])
            .arg(&authfile)
            .arg(format!("docker://{image}"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.success(),
            should_pass,
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if should_pass {
            assert!(String::from_utf8_lossy(&out.stdout).contains("\"Architecture\": \"amd64\""));
        }

        let r = app.post(&format!("/admin/secrets/{name}/test"), &[]).await;
        assert_redirect_to(&r, &format!("/admin/secrets/{name}"));
        let page = app.get_html(&format!("/admin/secrets/{name}")).await;
        if should_pass {
            assert!(page.contains("Login succeeded"), "{page}");
        } else {
            assert!(
                page.contains("Unauthorized: the registry refused this username and password"),
                "{page}"
            );
        }
        assert!(page.contains("tested 20"), "the time is shown");
    }
    let list = app.get_html("/admin/secrets").await;
    assert!(list.contains("✓ login ok") && list.contains("✗ login failed"));
}

/// A small registry stand-in for the flows docker-registry does not do:
/// Bearer tokens (`redirect_loop` false) or redirects forever (true).
async fn fake_registry(redirect_loop: bool) -> u16 {
    use actix_web::{App, HttpRequest, HttpResponse, web};
    crate::loopback_server!(|port| {
        App::new()
            .route(
                "/v2/",
                web::get().to(move |req: HttpRequest| async move {
                    if redirect_loop {
                        return HttpResponse::Found()
                            .insert_header(("Location", "/v2/"))
                            .finish();
                    }
                    match req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                    {
                        Some("Bearer good-token") => HttpResponse::Ok().finish(),
                        _ => HttpResponse::Unauthorized()
                            .insert_header((
                                "WWW-Authenticate",
                                format!(
                                    r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake""#
                                ),
                            ))
                            .finish(),
                    }
                }),
            )
            .route(
                "/token",
                web::get().to(|req: HttpRequest| async move {
                    // alice:s3cret
                    match req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                    {
                        Some("Basic YWxpY2U6czNjcmV0")
                            if req.query_string().contains("service=fake") =>
                        {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(r#"{"token":"good-token"}"#)
                        }
                        _ => HttpResponse::Unauthorized().finish(),
                    }
                }),
            )
    })
}

#[tokio::test]
async fn test_login_follows_bearer_tokens_and_reports_failures() {
    let fake = fake_registry(false).await;
    let looping = fake_registry(true).await;
    // A host that accepts and never answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    let closed = free_port();
    let app = spawn_app().await;
    app.login_admin().await;
    let wharf_port = app.address.rsplit(':').next().unwrap().to_owned();

    let cases = [
        (
            "bearer-good",
            format!("http://127.0.0.1:{fake}"),
            "s3cret",
            "Login succeeded",
            true,
        ),
        (
            "bearer-bad",
            format!("http://127.0.0.1:{fake}"),
            "wrong",
            "Unauthorized",
            false,
        ),
        (
            "redirects",
            format!("http://127.0.0.1:{looping}"),
            "x",
            "Too many redirects",
            false,
        ),
        (
            "closed",
            format!("http://127.0.0.1:{closed}"),
            "x",
            "Unreachable",
            false,
        ),
        (
            "not-registry",
            format!("http://127.0.0.1:{wharf_port}"),
            "x",
            "Not a registry",
            false,
        ),
        (
            "tls",
            format!("https://127.0.0.1:{fake}"),
            "x",
            "TLS error",
            false,
        ),
        (
            "hangs",
            format!("http://127.0.0.1:{hang_port}"),
            "x",
            "Timeout",
            false,
        ),
    ];
    for (name, host, password, _, _) in &cases {
        app.create_secret(name, "", host, "alice", password).await;
    }
    for (name, _, _, expected, ok) in cases {
        let started = std::time::Instant::now();
        let r = app.post(&format!("/admin/secrets/{name}/test"), &[]).await;
        assert_redirect_to(&r, &format!("/admin/secrets/{name}"));
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "{name} took {:?}",
            started.elapsed()
        );
        let page = app.get_html(&format!("/admin/secrets/{name}")).await;
        assert!(
            page.contains(expected),
            "{name}: expected {expected:?} in {}",
            page.split("Registry login").nth(1).unwrap_or("")
        );
        assert_eq!(page.contains("test-ok"), ok, "{name}");
    }
    drop(hang);
}
