//! Config in, running server out. Every route is wired here.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Logger, Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::auth::{self, store as user_store};
use crate::cli::args::ServeArgs;
use crate::db;
use crate::error::AppError;
use crate::state::{AppState, Settings};
use crate::web::{TypedSession, see_other};
use crate::{audit_log, groups, images, keys, routes, secrets, tokens, users};

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Data directory (database and key files).
    pub data_dir: PathBuf,
    /// Server flags.
    pub serve: ServeArgs,
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    setup_url: Option<String>,
    server: Server,
    state: web::Data<AppState>,
    serving: web::Data<crate::clusters::serving::ServingLog>,
    /// `--serving-flush-every`.
    flush_every: std::time::Duration,
}

impl Application {
    /// Opens the data directory, the keys and the database, binds the
    /// listener and prepares the server.
    pub fn build(config: ServerConfig) -> Result<Self, AppError> {
        Self::build_with_clock(config, crate::clock::Clock::system())
    }

    /// [`Application::build`] with the clock registry tokens live by (a
    /// test moves one by hand to pass a day in seconds).
    pub fn build_with_clock(
        config: ServerConfig,
        clock: crate::clock::Clock,
    ) -> Result<Self, AppError> {
        let (pool, changes) = match &config.serve.db.database_url {
            // PostgreSQL: the keys must be kept apart from the database they
            // protect, and reads from memory wait for PostgreSQL's own
            // commit signal (every read goes to the database until then).
            Some(url) => {
                let keys_apart = (config.serve.master_key_file.is_some()
                    || config.serve.master_key.is_some())
                    && (config.serve.session_key_file.is_some()
                        || config.serve.session_key.is_some());
                if !keys_apart {
                    return Err(AppError::internal(
                        "with --database-url, give --master-key-file and --session-key-file (make them with `wharf keys generate --out DIR`): keys kept in the database they protect would be copied with every backup of it",
                    ));
                }
                let target =
                    db::pg::Target::parse(url, config.serve.db.database_password_file.as_deref())
                        .map_err(AppError::internal)?;
                let pool = crate::db::off_runtime(|| db::pg::open(&target))
                    .map_err(AppError::internal)?
                    .map_err(AppError::internal)?;
                (db::Pool::Postgres(pool), crate::changes::Changes::off())
            }
            None => {
                keys::create_private_dir(&config.data_dir).map_err(|e| {
                    AppError::internal(format!("cannot create {}: {e}", config.data_dir.display()))
                })?;
                keys::warn_if_readable_by_others(&config.data_dir);
                let pool = db::open(&config.data_dir.join("wharf.db"))?;
                let changes = crate::changes::Changes::watch(&config.data_dir.join("wharf.db"));
                (pool, changes)
            }
        };
        let master = crate::db::off_runtime(|| -> Result<_, AppError> {
            keys::master_key(
                keys::KeyFile::of(config.serve.master_key_file.as_deref(), &config.data_dir),
                config.serve.master_key.as_ref(),
                &pool.get()?.conn(),
            )
            .map_err(AppError::internal)
        })
        .map_err(AppError::internal)??;
        let cookie_key = keys::session_key(
            keys::KeyFile::of(config.serve.session_key_file.as_deref(), &config.data_dir),
            config.serve.session_key.as_ref(),
        )
        .map_err(AppError::internal)?;
        // A configuration that can never work stops wharf here; a provider
        // that cannot be reached does not (it is discovered in the
        // background).
        let sso = crate::sso::SsoConfig::from_args(&config.serve)
            .and_then(|c| {
                c.map(|c| crate::sso::Sso::new(c, cookie_key.clone(), config.serve.secure_cookies))
                    .transpose()
            })
            .map_err(AppError::internal)?;
        let listener = TcpListener::bind(&config.serve.listen).map_err(|e| {
            AppError::internal(format!("cannot listen on {}: {e}", config.serve.listen))
        })?;
        let addr = listener.local_addr().map_err(AppError::internal)?;

        let no_users = crate::db::off_runtime(|| -> Result<bool, AppError> {
            let pooled = pool.get()?;
            let conn = pooled.conn();
            let no_users = user_store::count(&conn)? == 0;
            // Delivered patterns stored before today's rules are not
            // served: each is said here, and on its secret's page, until
            // fixed.
            crate::clusters::credentials::warn_of_unserved(&conn)?;
            Ok(no_users)
        })
        .map_err(AppError::internal)??;
        let setup_token = no_users.then(crate::web::new_token);
        let setup_url = setup_token
            .as_ref()
            .map(|t| format!("http://{addr}/setup?token={t}"));
        if let Some(url) = &setup_url {
            // Printed once, on purpose: this is how the first administrator gets in.
            tracing::warn!("no users yet: open {url} to create the first administrator");
        }
        let state = web::Data::new(AppState {
            pool,
            changes,
            master,
            setup_token: Mutex::new(setup_token),
            hashing: crate::crypto::PasswordHashing::per_core(),
            lifecycle: crate::state::LifecycleSettings {
                check_every: config.serve.check_every.0,
                notify_url: config.serve.notify_url.clone(),
                public_url: config.serve.public_url.clone(),
            },
            delivery: crate::state::DeliverySettings {
                node_cache: config.serve.node_cache.0,
            },
            metrics: crate::metrics::Metrics::new(),
            tokens: crate::ecr::Tokens::new(clock),
            checking: Mutex::new(Default::default()),
            sso,
            settings: Settings {
                session_idle: config.serve.session_idle.0,
                session_max: config.serve.session_max.0,
                trust_proxy: config.serve.trust_proxy,
                trusted_proxies: config.serve.trusted_proxies.clone(),
                password_login: config.serve.password_login != "off",
            },
        });
        let serving = web::Data::new(crate::clusters::serving::ServingLog::default());
        let server = run(
            listener,
            state.clone(),
            serving.clone(),
            cookie_key,
            config.serve.secure_cookies,
        )?;
        tracing::info!(%addr, "wharf is listening");
        Ok(Self {
            port: addr.port(),
            setup_url,
            server,
            state,
            serving,
            flush_every: std::time::Duration::from_secs(
                config.serve.serving_flush_every.0.max(1).unsigned_abs(),
            ),
        })
    }

    /// The port bound (tests ask for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The one-time setup link, while no user exists.
    pub fn setup_url(&self) -> Option<&str> {
        self.setup_url.as_deref()
    }

    /// Runs until the server is stopped, with the background task of
    /// scheduled checks and notifications, which stops with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let background = crate::secrets::schedule::spawn(self.state.clone());
        let counting = crate::clusters::serving::spawn(
            self.state.clone(),
            self.serving.clone(),
            self.flush_every,
        );
        let refreshing = crate::secrets::refresh::spawn(self.state.clone());
        let discovering = self.state.sso.is_some().then(|| {
            let state = self.state.clone();
            tokio::spawn(async move {
                if let Some(sso) = &state.sso {
                    crate::sso::keep_discovered(sso, &state.metrics).await;
                }
            })
        });
        let result = self.server.await;
        refreshing.abort();
        if let Some(task) = discovering {
            task.abort();
        }
        if let Some(task) = background {
            task.abort();
        }
        counting.abort();
        // What clusters were given this hour is written before wharf ends.
        if let Err(e) = crate::clusters::serving::flush(&self.state, &self.serving).await {
            tracing::warn!(error = %e, "writing cluster request counts failed");
        }
        result
    }
}

/// Strict headers on every answer. Pages use only their own CSS and JS.
/// Behind TLS (`--secure-cookies`) browsers are also told to keep to HTTPS.
fn security_headers(tls: bool) -> DefaultHeaders {
    let headers = if tls {
        DefaultHeaders::new().add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        DefaultHeaders::new()
    };
    headers
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cache-Control", "no-store"))
}

/// The session cookie: private (encrypted and signed), `HttpOnly`,
/// `SameSite=Strict`, and behind TLS `Secure` with the `__Host-` prefix that
/// pins it to this host and path.
fn session_middleware(
    cookie_key: Key,
    secure: bool,
    max_age: i64,
) -> SessionMiddleware<CookieSessionStore> {
    let name = if secure {
        "__Host-wharf_session"
    } else {
        "wharf_session"
    };
    SessionMiddleware::builder(CookieSessionStore::default(), cookie_key)
        .cookie_name(name.into())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Strict)
        .cookie_secure(secure)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default().session_ttl(CookieDuration::seconds(max_age)),
        )
        .build()
}

/// Every route: the pages outside any area, then each area's own.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(crate::api::metrics::metrics))
        .configure(crate::api::configure)
        .route("/healthz", web::get().to(routes::healthz))
        .route("/healthz", web::head().to(routes::healthz))
        .route("/static/app.css", web::get().to(routes::css))
        .route("/static/app.js", web::get().to(routes::js))
        .route("/", web::get().to(routes::home))
        .route("/login", web::get().to(crate::signin::login_form))
        .route("/login", web::post().to(crate::signin::login_submit))
        .route("/logout", web::post().to(crate::signin::logout))
        .route("/auth/oidc/login", web::get().to(crate::signin::sso::login))
        .route(
            "/auth/oidc/callback",
            web::get().to(crate::signin::sso::callback),
        )
        .route("/setup", web::get().to(users::setup_form))
        .route("/setup", web::post().to(users::setup_submit))
        .route("/account/password", web::get().to(users::password_form))
        .route("/account/password", web::post().to(users::password_submit))
        .configure(tokens::configure_account)
        .service(
            web::scope("/admin")
                .route("", web::get().to(|| async { see_other("/admin/secrets") }))
                .route("/", web::get().to(|| async { see_other("/admin/secrets") }))
                .configure(secrets::configure)
                .configure(images::configure)
                .configure(users::configure)
                .configure(groups::configure)
                .configure(crate::clusters::configure)
                .configure(tokens::configure)
                .configure(audit_log::configure),
        );
}

/// Wires middleware and routes onto a bound listener.
pub fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    serving: web::Data<crate::clusters::serving::ServingLog>,
    cookie_key: Key,
    secure_cookies: bool,
) -> Result<Server, AppError> {
    let max_age = state.settings.session_max;
    // The lists' orders and search indexes, shared by their pages and the
    // API.
    let secrets_list = web::Data::new(secrets::store::SecretsList::default());
    let images_list = web::Data::new(images::store::ImagesList::default());
    let delivery = web::Data::new(crate::clusters::credentials::DeliveryIndex::default());
    let known = web::Data::new(crate::auth::Known::default());
    let server = HttpServer::new(move || {
        App::new()
            // Innermost first: CSRF and error pages with navigation need the
            // session, which wraps them.
            .wrap(from_fn(auth::keep_navigation_on_errors))
            .wrap(from_fn(auth::verify_csrf))
            .wrap(from_fn(track))
            .wrap(session_middleware(
                cookie_key.clone(),
                secure_cookies,
                max_age,
            ))
            .wrap(security_headers(secure_cookies))
            // %U: the path without the query, so no setup token reaches the log.
            .wrap(
                Logger::new(r#"%a "%{method}xi %U" %s %b %Dms"#)
                    .custom_request_replace("method", |r| r.method().to_string()),
            )
            .app_data(state.clone())
            .app_data(secrets_list.clone())
            .app_data(images_list.clone())
            .app_data(delivery.clone())
            .app_data(known.clone())
            .app_data(serving.clone())
            .app_data(web::PayloadConfig::new(crate::web::MAX_BODY))
            .app_data(
                web::FormConfig::default()
                    .limit(crate::web::MAX_BODY)
                    .error_handler(|e, _| {
                        AppError::BadRequest(format!("The form could not be read: {e}")).into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                AppError::BadRequest(format!("The query string could not be read: {e}")).into()
            }))
            .configure(routes)
            .default_service(web::to(not_found))
    })
    .on_connect(crate::web::Reached::note)
    .listen(listener)
    .map_err(AppError::internal)?
    .run();
    Ok(server)
}

/// Anything unrouted: 405 for other methods; for GET and POST, the sign-in
/// page when there is no session (as for every other page), else 404.
async fn not_found(
    req: actix_web::HttpRequest,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    use actix_web::http::Method;
    if req.method() != Method::GET && req.method() != Method::POST {
        return Ok(HttpResponse::MethodNotAllowed().finish());
    }
    if session.user().is_none() && !req.path().starts_with("/static/") {
        return Err(AppError::LoginRequired);
    }
    Err(AppError::NotFound("There is no such page.".into()))
}

/// Times and counts every request by its route pattern; what matched no
/// route is counted as `unmatched`, so no raw path becomes a label.
async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    // Only the methods there are: a made-up one must not mint a label.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        state.metrics.observe(
            &method,
            &route,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}
