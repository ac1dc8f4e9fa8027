//! Console sessions: a random secret in an `HttpOnly; SameSite=Strict`
//! cookie, kept server-side only as its SHA-256, with the signed-in account,
//! a CSRF token for the session's forms, and an idle and an absolute expiry.
//!
//! Tree: `console_sessions` SHA-256(secret) → [`Session`] JSON. Expired
//! sessions are removed when they are next presented and by [`Sessions::sweep`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::notices::b64;
use crate::notices::keys::constant_time_eq;

/// A session unused this long ends.
pub const IDLE: Duration = Duration::hours(2);
/// A session ends this long after sign-in whatever its use.
pub const ABSOLUTE: Duration = Duration::hours(12);
/// Sessions touch their record at most this often (not on every request).
const TOUCH_EVERY: Duration = Duration::minutes(1);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session database error: {0}")]
    Db(#[from] kv::Error),
    #[error("cannot encode a session: {0}")]
    Encode(String),
}

/// What the server keeps of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The account's name; its role is read from the account on each request.
    pub user: String,
    /// Sent in every form of this session, compared in constant time on every POST.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
}

impl Session {
    fn expired(&self, now: DateTime<Utc>) -> bool {
        now - self.seen_at > IDLE || now - self.created_at > ABSOLUTE
    }

    /// Whether `token` is this session's CSRF token.
    pub fn csrf_matches(&self, token: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), token.as_bytes())
    }
}

/// The sessions in the store. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    tree: kv::Tree,
}

fn key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_token() -> String {
    b64::encode_url(&rand::random::<[u8; 32]>())
}

impl Sessions {
    pub fn open(db: &kv::Db) -> Result<Sessions, SessionError> {
        Ok(Sessions { tree: db.open_tree("console_sessions")? })
    }

    /// Starts a session for `user`; returns the cookie secret (shown to the browser only).
    pub fn start(&self, user: &str, now: DateTime<Utc>) -> Result<(String, Session), SessionError> {
        let secret = random_token();
        let session = Session { user: user.to_string(), csrf: random_token(), created_at: now, seen_at: now };
        self.tree.insert(key(&secret), encode(&session)?)?;
        self.tree.flush()?;
        Ok((secret, session))
    }

    /// The live session of a cookie secret, touched; `None` when unknown or expired.
    pub fn get(&self, secret: &str, now: DateTime<Utc>) -> Result<Option<Session>, SessionError> {
        let k = key(secret);
        let Some(raw) = self.tree.get(k)? else { return Ok(None) };
        let Ok(mut session) = serde_json::from_slice::<Session>(&raw) else {
            // An unreadable record is as good as no session: sign in again.
            self.tree.remove(k)?;
            return Ok(None);
        };
        if session.expired(now) {
            self.tree.remove(k)?;
            return Ok(None);
        }
        if now - session.seen_at > TOUCH_EVERY {
            session.seen_at = now;
            self.tree.insert(k, encode(&session)?)?;
        }
        Ok(Some(session))
    }

    /// Ends a session (sign-out).
    pub fn end(&self, secret: &str) -> Result<(), SessionError> {
        self.tree.remove(key(secret))?;
        self.tree.flush()?;
        Ok(())
    }

    /// Removes every expired session; returns how many.
    pub fn sweep(&self, now: DateTime<Utc>) -> Result<usize, SessionError> {
        let mut removed = 0;
        for kv in self.tree.iter() {
            let (k, v) = kv?;
            if serde_json::from_slice::<Session>(&v).map_or(true, |s| s.expired(now)) {
                self.tree.remove(k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn encode(session: &Session) -> Result<Vec<u8>, SessionError> {
    serde_json::to_vec(session).map_err(|e| SessionError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_session_lives_until_idle_absolute_expiry_or_sign_out() {
        let dir = tempfile::tempdir().unwrap();
        let db = kv::open(dir.path()).unwrap();
        let sessions = Sessions::open(&db).unwrap();
        let t0 = Utc::now();
        let (secret, s) = sessions.start("wangfang", t0).unwrap();
        assert_ne!(secret, s.csrf);
        assert!(sessions.get("made-up", t0).unwrap().is_none());
        let got = sessions.get(&secret, t0 + Duration::minutes(90)).unwrap().unwrap();
        assert!(got.csrf_matches(&s.csrf) && !got.csrf_matches("x"));
        // Used at +90 min, so alive at +3 h, but idle past 2 h by +4 h.
        assert!(sessions.get(&secret, t0 + Duration::hours(3)).unwrap().is_some());
        assert!(sessions.get(&secret, t0 + Duration::hours(5) + Duration::minutes(1)).unwrap().is_none());
        // Absolute expiry, however busy.
        let (busy, _) = sessions.start("li", t0).unwrap();
        let mut t = t0;
        while t < t0 + ABSOLUTE - Duration::hours(1) {
            t += Duration::hours(1);
            assert!(sessions.get(&busy, t).unwrap().is_some());
        }
        assert!(sessions.get(&busy, t0 + ABSOLUTE + Duration::minutes(1)).unwrap().is_none());
        let (out, _) = sessions.start("zhang", t0).unwrap();
        sessions.end(&out).unwrap();
        assert!(sessions.get(&out, t0).unwrap().is_none());
        assert!(!db.open_tree("console_sessions").unwrap().iter().any(|kv| {
            let (k, _) = kv.unwrap();
            k.as_ref() == busy.as_bytes()
        }));
    }
}
