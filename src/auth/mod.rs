//! Who may do what: API keys with scopes, webhook signatures, rate limits.
//!
//! Pure logic lives here (scopes, secrets, signatures, the limiters); the
//! database side is `store::keys`, the HTTP side `http::auth`.
//!
//! Decisions worth knowing:
//! - A key is `ga_` + 32 random bytes in lower-case base32 (52 characters).
//!   Only its SHA-256 is stored: the secret is random and high-entropy, so
//!   a slow password hash would buy nothing.
//! - Every request looks its key up on the primary (never a replica), so a
//!   revoked key fails from the next request on every process.
//! - `last_used_at` is written at most once a minute per key and process,
//!   off the request path: `keys list` shows it to the minute.

pub mod command;
pub mod limiter;
mod scope;
pub mod secret;
pub mod service;
pub mod signature;

pub use scope::{Scope, Scopes};

/// Who is making a request, once their key checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's row id; `None` when auth is disabled or for `METRICS_TOKEN`.
    pub key_id: Option<i64>,
    /// The key's name, as the audit log records it (never the secret).
    pub name: String,
    pub scopes: Scopes,
}

impl Principal {
    /// The principal of every request when `AUTH_DISABLED=true`.
    pub fn unauthenticated_development() -> Self {
        Principal {
            key_id: None,
            name: "(auth disabled)".into(),
            scopes: Scopes::all(),
        }
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.allows(scope)
    }
}

/// What the request path shares across requests: the limiters and when
/// each key's use was last written down.
pub struct Gate {
    pub limiters: limiter::Limiters,
    last_touched: std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>,
    /// Set once the first admin key exists (or auth is off): until then,
    /// when the database was down at start, requests get 503 rather than a
    /// 401 that no key could have avoided.
    ready: std::sync::atomic::AtomicBool,
    /// Admin keys (by hash) this process verified for `/metrics`, and when:
    /// while the database is down, a scrape with one of them is still
    /// answered (see [`ADMIN_MEMORY`]).
    admins: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// How long a verified admin key may read `/metrics` while the database
/// cannot confirm it. Nothing else is served on that memory.
pub const ADMIN_MEMORY: std::time::Duration = std::time::Duration::from_secs(300);

/// How often a key's `last_used_at` is written at most, per process.
pub const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Gate {
    pub fn new(config: &crate::config::AuthConfig) -> Self {
        Gate {
            limiters: limiter::Limiters::new(config),
            last_touched: Default::default(),
            ready: std::sync::atomic::AtomicBool::new(false),
            admins: Default::default(),
        }
    }

    /// Notes that the key hashing to `hash` was just verified (`/metrics`).
    pub fn remember_admin(&self, hash: &str, principal: &Principal) {
        if principal.allows(Scope::Admin) {
            let mut admins = self.admins.lock().unwrap_or_else(|e| e.into_inner());
            admins.retain(|_, at| at.elapsed() < ADMIN_MEMORY);
            admins.insert(hash.to_owned(), std::time::Instant::now());
        }
    }

    /// Whether the key hashing to `hash` was verified as admin recently.
    pub fn recently_admin(&self, hash: &str) -> bool {
        let admins = self.admins.lock().unwrap_or_else(|e| e.into_inner());
        admins
            .get(hash)
            .is_some_and(|at| at.elapsed() < ADMIN_MEMORY)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn set_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether key `id`'s use should be written down now (at most once per
    /// [`TOUCH_EVERY`]); marks it written if so.
    pub fn should_touch(&self, id: i64) -> bool {
        let now = std::time::Instant::now();
        let mut last = self.last_touched.lock().unwrap_or_else(|e| e.into_inner());
        match last.get(&id) {
            Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
            _ => {
                last.insert(id, now);
                true
            }
        }
    }
}
