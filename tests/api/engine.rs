//! Issue 32, the engine layer: the same SQL through `wharf::db::Conn` reads
//! and refuses alike on SQLite and on a real PostgreSQL, and a PostgreSQL
//! that cannot be used is said in one sentence.

use wharf::db::pg::{self, Target};
use wharf::db::{Conn, Engine, PgConn};

use crate::pg::{cluster, secret_file};

/// What one engine answered to the script below, to compare.
#[derive(Debug, PartialEq)]
struct Seen {
    users: Vec<(i64, String, bool, Option<i64>)>,
    token: Vec<u8>,
    duplicate_refused: bool,
    missing_reference_refused: bool,
    counter_steps: (i64, i64),
    exists: (bool, bool),
    none: bool,
}

/// The same statements, as a store writes them, on either engine.
fn script(c: Conn<'_>) -> Seen {
    let add = "INSERT INTO users (username, password_hash, is_admin, active, created_at, updated_at) \
               VALUES (?1, 'hash', ?2, 1, ?3, ?3)";
    for (name, admin) in [
        ("b-user", true),
        ("a-user", false),
        ("_x", false),
        ("Zeta", true),
    ] {
        c.execute(add, rusqlite::params![name, admin, 1_700_000_000_i64])
            .unwrap();
    }
    let duplicate = c
        .execute(add, rusqlite::params!["a-user", false, 1_i64])
        .expect_err("a taken username");
    // Bytes with a zero in them, and a NULL read as None.
    let token: Vec<u8> = vec![0, 1, 2, 255, 0, 7];
    c.execute(
        "UPDATE users SET oidc_id_token = ?1 WHERE username = ?2",
        rusqlite::params![token, "a-user"],
    )
    .unwrap();
    let users = c
        .query_map(
            "SELECT id, username, is_admin, last_login_at FROM users ORDER BY username",
            (),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let token = c
        .query_row(
            "SELECT oidc_id_token FROM users WHERE username = ?1",
            rusqlite::params!["a-user"],
            |r| r.get(0),
        )
        .unwrap();
    // A pull secret that does not exist.
    let missing = c
        .execute(
            "INSERT INTO images (name, image_type, url, pull_secret_id, created_at, updated_at) \
             VALUES ('nb', 'cpu', 'a.io/b', 999, 1, 1)",
            (),
        )
        .expect_err("a missing secret");
    // The change counters the memory reads rely on move alike.
    let count = |c: Conn<'_>| -> i64 {
        c.query_row(
            "SELECT n FROM change_counters WHERE tbl = 'secrets'",
            (),
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = count(c);
    c.execute(
        "INSERT INTO secrets (name, display_name, kind, registry_host, registry_username, sealed, version, created_at, updated_at) \
         VALUES ('s1', '', 'image_pull', 'ghcr.io', 'u', ?1, 1, 1, 1)",
        [vec![9_u8; 4]],
    )
    .unwrap();
    let after_insert = count(c);
    c.execute(
        "UPDATE secrets SET display_name = 'S' WHERE name = 's1'",
        (),
    )
    .unwrap();
    let after_update = count(c);
    let none = c
        .query_row(
            "SELECT id FROM users WHERE username = ?1",
            rusqlite::params!["nobody"],
            |r| r.get::<usize, i64>(0),
        )
        .is_err_and(|e| matches!(e, rusqlite::Error::QueryReturnedNoRows));
    Seen {
        users: users
            .into_iter()
            .map(
                |(id, name, admin, last): (i64, String, bool, Option<i64>)| (id, name, admin, last),
            )
            .collect(),
        token,
        duplicate_refused: wharf::db::is_unique_violation(&duplicate),
        missing_reference_refused: wharf::db::is_foreign_key_violation(&missing),
        counter_steps: (after_insert - before, after_update - after_insert),
        exists: (
            c.exists(
                "SELECT 1 FROM users WHERE username = ?1",
                rusqlite::params!["Zeta"],
            )
            .unwrap(),
            c.exists(
                "SELECT 1 FROM users WHERE username = ?1",
                rusqlite::params!["zeta"],
            )
            .unwrap(),
        ),
        none,
    }
}

#[test]
fn the_same_sql_reads_and_refuses_alike_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = wharf::db::open(&dir.path().join("wharf.db")).unwrap();
    let sqlite = sqlite.get().unwrap();
    let on_sqlite = script(sqlite.conn());

    let url = cluster().database();
    let pool = pg::open(&Target::parse(&url, None).unwrap()).unwrap();
    let pg_conn = pool.get().unwrap();
    let c = Conn::from(&*pg_conn as &PgConn);
    assert_eq!(c.engine(), Engine::Postgres);
    let on_postgres = script(c);

    assert_eq!(on_sqlite, on_postgres);
    // And what that is: byte order (as SQLite sorts), flags as bools,
    // refusals by meaning, one step per write.
    assert_eq!(
        on_sqlite
            .users
            .iter()
            .map(|u| u.1.as_str())
            .collect::<Vec<_>>(),
        ["Zeta", "_x", "a-user", "b-user"]
    );
    assert!(on_sqlite.duplicate_refused && on_sqlite.missing_reference_refused);
    assert_eq!(on_sqlite.counter_steps, (1, 1));
    assert_eq!(on_sqlite.exists, (true, false));
    assert!(on_sqlite.none);
}

/// Every way `--database-url` cannot be used is one sentence, and the
/// password may come from a file.
#[test]
fn a_database_that_cannot_be_used_is_said_in_one_sentence() {
    let refused = |url: &str| Target::parse(url, None).map(drop).unwrap_err();
    assert!(refused("mysql://u@h/db").contains("must be a postgres:// URL"));
    assert!(refused("postgres://u@h:5432").contains("names no database"));

    // Nothing listens there.
    let port = crate::helpers::free_port();
    let nowhere = Target::parse(
        &format!("postgres://postgres@127.0.0.1:{port}/wharf?sslmode=disable"),
        None,
    )
    .unwrap();
    let why = pg::open(&nowhere).map(drop).unwrap_err();
    assert!(
        why.starts_with(&format!(
            "cannot use the PostgreSQL database at 127.0.0.1:{port}/wharf:"
        )),
        "{why}"
    );
    assert!(!why.contains('\n'), "{why}");

    // A schema newer than this binary.
    let url = cluster().database();
    let target = Target::parse(&url, None).unwrap();
    drop(pg::open(&target).unwrap());
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    cluster()
        .psql(db, "UPDATE schema_version SET version = 99")
        .unwrap();
    let why = pg::open(&target).map(drop).unwrap_err();
    assert!(
        why.contains("its schema is version 99, newer than this wharf's (16)"),
        "{why}"
    );

    // Another application's tables are never taken for wharf's.
    let other = cluster().database();
    let other_db = other.rsplit('/').next().unwrap().split('?').next().unwrap();
    cluster()
        .psql(other_db, "CREATE TABLE users (id int)")
        .unwrap();
    let why = pg::open(&Target::parse(&other, None).unwrap())
        .map(drop)
        .unwrap_err();
    assert!(why.contains("give wharf a database of its own"), "{why}");

    // The password from a file: an empty one is refused.
    let dir = tempfile::tempdir().unwrap();
    let empty = secret_file(dir.path(), "empty", "");
    let why = Target::parse(&url, Some(&empty)).map(drop).unwrap_err();
    assert!(why.contains("is empty"), "{why}");
    // One from a file is taken (its first line; the throwaway server
    // trusts loopback, so any password opens it).
    let file = secret_file(dir.path(), "pw", "from-a-file\n");
    pg::open(&Target::parse(&cluster().database(), Some(&file)).unwrap()).unwrap();
}

/// Several processes starting at once on an empty database: one migrates
/// (under the advisory lock), the others wait and find it done.
#[test]
fn processes_starting_together_migrate_once() {
    let url = cluster().database();
    let target = Target::parse(&url, None).unwrap();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let t = target.clone();
            std::thread::spawn(move || pg::open(&t).map(drop))
        })
        .collect();
    for o in opened {
        o.join().unwrap().unwrap();
    }
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert_eq!(
        cluster()
            .psql(db, "SELECT count(*), max(version) FROM schema_version")
            .unwrap(),
        "1|16"
    );
}

/// Transactions mean the same on both engines: a write commits or is
/// rolled back as a whole, writers take turns (PostgreSQL by an advisory
/// lock, as SQLite's `BEGIN IMMEDIATE`), and a read sees one snapshot.
#[test]
fn transactions_mean_the_same_on_both_engines() {
    fn check(a: Conn<'_>, b: Conn<'_>, writer: impl FnOnce() + Send) -> (i64, i64, i64, i64) {
        let count = |c: Conn<'_>| -> i64 {
            c.query_row("SELECT COUNT(*) FROM audit_log", (), |r| r.get(0))
                .unwrap()
        };
        let add = |c: Conn<'_>, what: &str| {
            c.execute(
                "INSERT INTO audit_log (at, actor, action, target, source) VALUES (1, 't', ?1, '', '')",
                rusqlite::params![what],
            )
            .unwrap();
        };
        // Committed, and rolled back when dropped.
        let tx = a.begin_write().unwrap();
        add(tx.conn(), "kept");
        tx.commit().unwrap();
        {
            let tx = a.begin_write().unwrap();
            add(tx.conn(), "dropped");
            assert!(a.in_transaction());
        }
        assert!(!a.in_transaction());
        let committed = count(b);
        // A read sees the snapshot of its first statement.
        let read = a.begin_read().unwrap();
        let before = count(read.conn());
        add(b, "meanwhile");
        let during = count(read.conn());
        drop(read);
        let after = count(a);
        // Writers take turns: another writer waits for this one's commit.
        let tx = a.begin_write().unwrap();
        std::thread::scope(|s| {
            s.spawn(writer);
            std::thread::sleep(std::time::Duration::from_millis(300));
            add(tx.conn(), "first");
            tx.commit().unwrap();
        });
        let order: Vec<String> = a
            .query_map(
                "SELECT action FROM audit_log WHERE action IN ('first', 'second') ORDER BY id",
                (),
                |r| r.get(0),
            )
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(order, ["first", "second"]);
        (committed, before, during, after)
    }
    let second = |c: Conn<'_>| {
        let tx = c.begin_write().unwrap();
        tx.conn()
            .execute(
                "INSERT INTO audit_log (at, actor, action, target, source) VALUES (1, 't', 'second', '', '')",
                (),
            )
            .unwrap();
        tx.commit().unwrap();
    };

    let dir = tempfile::tempdir().unwrap();
    let sqlite = wharf::db::open(&dir.path().join("wharf.db")).unwrap();
    let (a, b, w) = (
        sqlite.get().unwrap(),
        sqlite.get().unwrap(),
        sqlite.get().unwrap(),
    );
    let on_sqlite = check(a.conn(), b.conn(), move || second(w.conn()));

    let pool = pg::open(&Target::parse(&cluster().database(), None).unwrap()).unwrap();
    let (a, b, w) = (
        pool.get().unwrap(),
        pool.get().unwrap(),
        pool.get().unwrap(),
    );
    let on_postgres = check(
        Conn::from(&*a as &PgConn),
        Conn::from(&*b as &PgConn),
        move || second(Conn::from(&*w as &PgConn)),
    );
    assert_eq!(on_sqlite, on_postgres);
    assert_eq!(on_sqlite, (1, 1, 1, 2));
}

/// A PostgreSQL that goes away while wharf runs: pages and the API answer
/// 503 with a sentence (never a 500 or a panic), and wharf serves again
/// on its own once the server is back.
#[tokio::test]
async fn a_database_that_goes_away_is_a_503_and_wharf_comes_back_by_itself() {
    use reqwest::StatusCode;
    let pg = crate::pg::Own::start();
    let dir = tempfile::tempdir().unwrap();
    let [master, session] = wharf::keys::generate(&dir.path().join("keys")).unwrap();
    let mut args = crate::helpers::serve_args();
    args.db.database_url = Some(pg.database());
    args.master_key_file = Some(master);
    args.session_key_file = Some(session);
    let app = crate::helpers::spawn_app_with(Some(dir), args).await;
    app.login_admin().await;
    let token = crate::helpers::token(&app, crate::helpers::ADMIN, "ops", "read", 3600);
    assert_eq!(app.get("/admin/secrets").await.status(), StatusCode::OK);

    pg.down();
    let r = app.get("/admin/secrets").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("The database cannot be reached right now."),
        "{page}"
    );
    let (status, body) = app
        .api_json(reqwest::Method::GET, "/api/v1/secrets", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("The database cannot be reached right now."),
        "{body}"
    );
    // The process is alive all along.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    pg.up();
    let mut back = None;
    for _ in 0..100 {
        let s = app.get("/admin/secrets").await.status();
        if s == StatusCode::OK {
            back = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(back, Some(StatusCode::OK), "wharf did not come back");
}

/// On PostgreSQL the keys must be kept apart from the database: without
/// key files wharf does not start, and says what to do.
#[test]
fn postgresql_wants_the_keys_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = crate::helpers::serve_args();
    args.db.database_url = Some(cluster().database());
    let refused = wharf::startup::Application::build(wharf::startup::ServerConfig {
        data_dir: dir.path().to_path_buf(),
        serve: args,
    })
    .map(drop)
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("with --database-url, give --master-key-file and --session-key-file"),
        "{refused}"
    );
    // Nothing was made in the data directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
