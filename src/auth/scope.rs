//! Scopes and what they grant.

use std::fmt;
use std::str::FromStr;

/// What a key may do. `Admin` grants everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The webhook routes and the GraphQL `record*` mutations, nothing else.
    Ingest,
    /// Every query and subscription.
    Read,
    /// Everything: key management, erasure, the audit log, `/metrics`.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "unknown scope `{other}`: the scopes are ingest, read and admin"
            )),
        }
    }
}

/// A non-empty set of scopes, stored as `ingest,read` (in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    ingest: bool,
    read: bool,
    admin: bool,
}

impl Scopes {
    pub fn all() -> Self {
        Scopes {
            ingest: true,
            read: true,
            admin: true,
        }
    }

    pub fn only(scope: Scope) -> Self {
        Scopes::default().with(scope)
    }

    pub fn with(mut self, scope: Scope) -> Self {
        match scope {
            Scope::Ingest => self.ingest = true,
            Scope::Read => self.read = true,
            Scope::Admin => self.admin = true,
        }
        self
    }

    /// Whether a request needing `scope` may run: `admin` grants all.
    pub fn allows(&self, scope: Scope) -> bool {
        self.admin
            || match scope {
                Scope::Ingest => self.ingest,
                Scope::Read => self.read,
                Scope::Admin => false,
            }
    }

    /// Whether only `ingest` was granted: such keys get the ingest rate limit.
    pub fn is_ingest_only(&self) -> bool {
        self.ingest && !self.read && !self.admin
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        Scope::ALL.into_iter().filter(|s| match s {
            Scope::Ingest => self.ingest,
            Scope::Read => self.read,
            Scope::Admin => self.admin,
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl FromStr for Scopes {
    type Err = String;

    /// `read`, `ingest,read`, `admin` (commas, spaces allowed); at least one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut scopes = Scopes::default();
        let mut any = false;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            scopes = scopes.with(part.parse()?);
            any = true;
        }
        if !any {
            return Err("at least one scope is needed: ingest, read or admin".into());
        }
        Ok(scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_grants_every_scope_and_the_others_only_their_own() {
        let admin = Scopes::only(Scope::Admin);
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        let ingest = Scopes::only(Scope::Ingest);
        assert!(ingest.allows(Scope::Ingest));
        assert!(!ingest.allows(Scope::Read));
        assert!(!ingest.allows(Scope::Admin));
        let read = Scopes::only(Scope::Read);
        assert!(!read.allows(Scope::Ingest) && read.allows(Scope::Read));
    }

    #[test]
    fn scopes_round_trip_through_their_stored_text() {
        let s: Scopes = " read , ingest".parse().unwrap();
        assert_eq!(s.to_string(), "ingest,read");
        assert_eq!(s.to_string().parse::<Scopes>().unwrap(), s);
        assert!("".parse::<Scopes>().is_err());
        assert!("read,write"
            .parse::<Scopes>()
            .unwrap_err()
            .contains("write"));
    }
}
