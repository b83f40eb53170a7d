//! The pages a browser opens, embedded in the binary: the dashboard at `/`
//! ([`dashboard`]) and the file serving it shares with GraphiQL
//! ([`assets`]: content types, ETags, caching, the Content-Security-Policy).

pub mod assets;
pub mod dashboard;
