//! The provider's store: a [`Store`] trait, its SQLite implementation ([`SqliteStore`], the
//! default) and its PostgreSQL one ([`PgStore`], for a cluster), which share their queries.
//!
//! The schema lives in `migrations/sqlite` and is applied when the store opens, so a new data
//! folder needs no set-up and an old one is brought up to date. Everything the provider knows
//! lives here; nothing is kept only in memory.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::{ciba::request::Hint, clock::Timestamp, crypto::HashKey, keys::StoredKey, seed::Seed};

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Open(#[from] infra::sqlite::OpenError),
    /// The PostgreSQL database could not be reached or migrated.
    #[error(transparent)]
    OpenPostgres(#[from] infra::postgres::OpenError),
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// The seed could not be loaded.
    #[error("seed: {0}")]
    Seed(String),
}

/// Seconds since the Unix epoch, for the store's `created_at` note (once, when it is made).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A store shared by the whole provider.
pub type SharedStore = Arc<dyn Store>;

/// Everything the provider reads and writes. Writes that must not race are compare-and-set
/// ([`Store::update_backchannel`]) or single statements; multi-row changes are transactions.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// When the store was first created, in seconds since the Unix epoch.
    async fn created_at(&self) -> Result<i64, StoreError>;

    /// Waits for open connections to finish and closes them.
    async fn close(&self);

    /// Loads `seed` if the store has no application yet; returns whether it did.
    async fn seed_if_empty(
        &self,
        seed: &Seed,
        key: &HashKey,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The signing keys, oldest first.
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Stores `keys` if the store has no signing key yet, in one transaction under the same lock
    /// as seeding (instances starting together on one empty database keep one set); returns
    /// whether it did.
    async fn insert_first_signing_keys(
        &self,
        keys: &[StoredKey],
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// A client with its application's name.
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError>;

    /// Turns CIBA on or off for a client of `app_id` and sets what `change` names; returns the
    /// client, or `None` if the application has no such client.
    async fn set_ciba(
        &self,
        app_id: &str,
        client_id: &str,
        change: &CibaChange<'_>,
    ) -> Result<Option<Client>, StoreError>;

    /// Enables or disables a user's account; returns whether the user exists.
    async fn set_user_active(&self, id: &str, active: bool) -> Result<bool, StoreError>;

    /// How many backchannel requests are stored.
    async fn backchannel_count(&self) -> Result<i64, StoreError>;

    /// A user by id.
    async fn user(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// The customer of `app_id` that `hint` names.
    async fn customer_by_hint(&self, app_id: &str, hint: &Hint)
    -> Result<Option<User>, StoreError>;

    /// Stores a new backchannel request.
    async fn insert_backchannel(&self, request: &Backchannel) -> Result<(), StoreError>;

    /// Deletes a backchannel request (when its message could not be sent).
    async fn delete_backchannel(&self, id_hash: &[u8]) -> Result<(), StoreError>;

    /// A backchannel request by the hash of its id.
    async fn backchannel(&self, id_hash: &[u8]) -> Result<Option<Backchannel>, StoreError>;

    /// Writes `next` over the request if it is still at `expected_version`; returns whether it
    /// did. Concurrent writers each read, decide and try: exactly one succeeds per version.
    async fn update_backchannel(
        &self,
        next: &Backchannel,
        expected_version: i64,
    ) -> Result<bool, StoreError>;

    /// Stores issued tokens, all or none; stores none and returns `false` if their grant was
    /// revoked.
    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> Result<bool, StoreError>;

    /// Refresh-token rotation in one transaction: spends the refresh token `old_hash` (if it is
    /// still live) and stores its successors. Returns `false`, changing nothing, if the token
    /// was already spent or its grant revoked: of concurrent refreshes, exactly one wins.
    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        now: Timestamp,
        tokens: &[TokenRecord],
    ) -> Result<bool, StoreError>;

    /// Marks an approved request redeemed (`next`, if it is still at `expected_version`) and
    /// stores its tokens in the same transaction: either the client gets working tokens and the
    /// request is spent, or nothing changed. Returns whether it was written.
    async fn redeem_backchannel(
        &self,
        next: &Backchannel,
        expected_version: i64,
        tokens: &[TokenRecord],
    ) -> Result<bool, StoreError>;

    /// A token by its hash.
    async fn token(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError>;

    /// Revokes every token of a grant, and the grant itself so no token of it is stored again;
    /// returns how many tokens it revoked.
    async fn revoke_grant(&self, grant_id: &str, now: Timestamp) -> Result<u64, StoreError>;

    /// Counts one event for `key` in the window starting at `window_start` (a new window
    /// restarts the count) and returns the window's count. Windows that ended are swept out
    /// when a new one opens.
    async fn count_event(
        &self,
        key: &[u8],
        window_start: i64,
        window_end: i64,
    ) -> Result<i64, StoreError>;

    /// The count of `key` in the window starting at `window_start` (0 for an older window).
    async fn event_count(&self, key: &[u8], window_start: i64) -> Result<i64, StoreError>;

    /// Takes back one event of `key` in the window starting at `window_start`, if it has any.
    async fn uncount_event(&self, key: &[u8], window_start: i64) -> Result<(), StoreError>;

    /// A workforce user of `app_id` by email (any case).
    async fn workforce_by_email(
        &self,
        app_id: &str,
        email: &str,
    ) -> Result<Option<User>, StoreError>;

    /// Stores a new authorization code.
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;

    /// Marks `client_id`'s code used and returns it; a code it already used comes back as
    /// [`CodeUse::Replayed`], so its grant can be revoked. Another client's code is
    /// [`CodeUse::Unknown`] and stays unused.
    async fn use_code(
        &self,
        code_hash: &[u8],
        client_id: &str,
        now: Timestamp,
    ) -> Result<CodeUse, StoreError>;

    /// Stores a message in the development outbox and returns its id.
    async fn insert_message(
        &self,
        message: &NewMessage<'_>,
        now: Timestamp,
    ) -> Result<i64, StoreError>;

    /// The newest `limit` messages of the outbox, newest first.
    async fn messages(&self, limit: i64) -> Result<Vec<Message>, StoreError>;

    /// Stores a new one-time code for a user and retires the user's earlier unused codes from
    /// the same client with the same binding, so only the newest code of a binding works.
    async fn insert_otp(&self, otp: &NewOtp<'_>) -> Result<i64, StoreError>;

    /// Deletes a one-time code (when it could not be sent).
    async fn delete_otp(&self, id: i64) -> Result<(), StoreError>;

    /// The user's newest unused code from `client_id` with `binding_hash` (`None`: unbound).
    async fn current_otp(
        &self,
        user_id: &str,
        client_id: &str,
        binding_hash: Option<&[u8]>,
    ) -> Result<Option<Otp>, StoreError>;

    /// Counts a wrong attempt on code `id` if fewer than `max` were counted; returns whether
    /// it counted (false: the code is locked or gone).
    async fn count_otp_attempt(&self, id: i64, max: i64) -> Result<bool, StoreError>;

    /// Marks code `id` used; returns false if it was used (or locked) in the meantime.
    async fn consume_otp(&self, id: i64, max: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// The passkeys of `user_id`, oldest first.
    async fn passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StoreError>;

    /// Stores a new passkey; `false` if a passkey with its credential id is stored already
    /// (for anyone).
    async fn insert_passkey(&self, passkey: &StoredPasskey) -> Result<bool, StoreError>;

    /// Stores a passkey's record after a sign-in with it, if its counter is still `seen`
    /// (compare-and-set: of two sign-ins with one counter value, one wins); `false` otherwise.
    async fn update_passkey(
        &self,
        credential_id: &str,
        passkey: &str,
        (seen, counter): (i64, i64),
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Stores a ceremony under way, dropping expired ones. A registration also drops the same
    /// customer's earlier open registration with the same client (only the customer's own
    /// token begins one). Sign-ins stay open side by side: anyone holding a customer's link may
    /// make the client begin one, and that must not end the customer's own.
    async fn insert_ceremony(&self, ceremony: &Ceremony, now: Timestamp) -> Result<(), StoreError>;

    /// Takes the live ceremony of `kind` under `handle_hash` for `client_id`: it is deleted,
    /// so it is used at most once. `None` if there is none (or it expired).
    async fn take_ceremony(
        &self,
        handle_hash: &[u8],
        kind: &str,
        client_id: &str,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError>;

    /// Appends an event to the audit trail.
    async fn insert_audit(&self, event: &AuditRecord) -> Result<(), StoreError>;

    /// The newest audit events of `app_id` (at most `limit`), before event id `before` if set.
    async fn audit_events(
        &self,
        app_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// An audit event as stored.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct AuditRecord {
    /// Increasing id (0 before it is stored).
    pub id: i64,
    /// When, ms since the epoch.
    pub at: i64,
    /// What happened (see [`crate::audit::Kind`]).
    pub event: String,
    /// The application.
    pub app_id: Option<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    /// A short, safe detail.
    pub detail: Option<String>,
}

/// An OAuth client as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Its application.
    pub app_id: String,
    /// Its application's name.
    pub app_name: String,
    /// A name for people.
    pub name: String,
    /// Keyed hash of the secret.
    pub secret_hash: Vec<u8>,
    /// Whether CIBA is enabled.
    pub ciba_enabled: bool,
    /// Where CIBA links point.
    pub login_uri: Option<String>,
    /// JSON array of redirect URIs.
    pub redirect_uris: String,
    /// `poll` or `ping` (CIBA Core §5).
    pub delivery_mode: String,
    /// For `ping`: the one endpoint its notifications go to.
    pub notification_endpoint: Option<String>,
}

impl Client {
    /// The endpoint to ping about its requests, if it registered ping mode.
    pub fn ping_endpoint(&self) -> Option<&str> {
        (self.delivery_mode == DeliveryMode::Ping.as_str())
            .then_some(self.notification_endpoint.as_deref())
            .flatten()
    }
}

/// How a client learns that a backchannel request was decided (CIBA Core §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryMode {
    /// It polls the token endpoint.
    Poll,
    /// The provider notifies its registered endpoint, then it asks the token endpoint once.
    Ping,
}

impl DeliveryMode {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poll => "poll",
            Self::Ping => "ping",
        }
    }

    /// The mode a wire name names.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "poll" => Some(Self::Poll),
            "ping" => Some(Self::Ping),
            _ => None,
        }
    }
}

/// A change of a client's CIBA settings ([`Store::set_ciba`]).
#[derive(Clone, Copy, Debug)]
pub struct CibaChange<'a> {
    /// Whether the client may start backchannel requests.
    pub enabled: bool,
    /// Where its customers' links point; `None` keeps the current one.
    pub login_uri: Option<&'a str>,
    /// Its delivery mode and, for ping, its notification endpoint; `None` keeps both.
    pub delivery: Option<(DeliveryMode, Option<&'a str>)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// A user as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct User {
    /// `user_id`, the `sub` claim.
    pub id: String,
    /// Its application.
    pub app_id: String,
    /// `customer` or `workforce`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Lower-case email.
    pub email: Option<String>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Whether the phone was verified.
    pub phone_verified: bool,
    /// `active` or `disabled`.
    pub status: String,
    /// Workforce role.
    pub role: Option<String>,
    /// Workforce password hash (PHC string).
    pub password_hash: Option<String>,
}

impl User {
    /// Whether the account may authenticate and be asked to.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A backchannel request as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Backchannel {
    /// Keyed hash of `auth_req_id`.
    pub id_hash: Vec<u8>,
    /// The client that made it.
    pub client_id: String,
    /// The user it is for.
    pub user_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// What the user is shown.
    pub binding_message: Option<String>,
    /// `sms`, `email` or `link`.
    pub channel: String,
    /// `pending`, `approved`, `denied` or `redeemed`.
    pub status: String,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Poll interval, seconds.
    pub interval_secs: i64,
    /// Last poll, ms.
    pub last_poll_at: Option<i64>,
    /// Decided, ms.
    pub decided_at: Option<i64>,
    /// When the user authenticated, seconds.
    pub auth_time: Option<i64>,
    /// JSON array of authentication methods.
    pub amr: Option<String>,
    /// Bumped by every change.
    pub version: i64,
    /// A ping client's `client_notification_token`, sealed under its `auth_req_id`
    /// ([`crate::crypto::HashKey::seal_for_request`]).
    pub notification_token: Option<String>,
}

/// An issued token as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRecord {
    /// Keyed hash of the token.
    pub hash: Vec<u8>,
    /// `access` or `refresh`.
    pub kind: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user it speaks for; `None` for client credentials.
    pub user_id: Option<String>,
    /// Space-separated scopes.
    pub scope: String,
    /// When the user authenticated, seconds.
    pub auth_time: Option<i64>,
    /// JSON array of authentication methods.
    pub amr: Option<String>,
    /// Issued, ms.
    pub issued_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Revoked, ms.
    pub revoked_at: Option<i64>,
    /// Tokens of one grant share this id.
    pub grant_id: String,
    /// `login` (the user's own sign-in), `ciba` or `client_credentials`.
    pub origin: String,
}

/// A message to store in the outbox.
#[derive(Clone, Copy)]
pub struct NewMessage<'a> {
    /// `sms` or `email`.
    pub channel: &'a str,
    /// Phone number or email address.
    pub recipient: &'a str,
    /// Email subject.
    pub subject: Option<&'a str>,
    /// The text.
    pub body: &'a str,
    /// The link in the text, if any.
    pub link: Option<&'a str>,
}

/// A message in the outbox.
#[derive(Clone, sqlx::FromRow, serde::Serialize)]
pub struct Message {
    /// Its number.
    pub id: i64,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone number or email address.
    #[serde(rename = "to")]
    pub recipient: String,
    /// Email subject.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// The link in the text, if any.
    pub link: Option<String>,
    /// When it was stored, ms.
    pub created_at: i64,
}

/// A one-time code to store.
#[derive(Clone, Copy, Debug)]
pub struct NewOtp<'a> {
    /// The client that asked for it.
    pub client_id: &'a str,
    /// The user it was sent to.
    pub user_id: &'a str,
    /// `sms` or `email`.
    pub channel: &'a str,
    /// Keyed hash of the code.
    pub code_hash: &'a [u8],
    /// Keyed hash of what the code was sent for, if the client bound it.
    pub binding_hash: Option<&'a [u8]>,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
}

/// A passkey as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredPasskey {
    /// The credential id, base64url.
    pub credential_id: String,
    /// Whose it is.
    pub user_id: String,
    /// The relying party's record of it (webauthn-rs `Passkey`, JSON).
    pub passkey: String,
    /// The signature counter last seen; 0 while the authenticator keeps none.
    pub counter: i64,
    /// Registered, ms.
    pub created_at: i64,
    /// Last signed in with, ms.
    pub last_used_at: Option<i64>,
}

/// A passkey ceremony under way, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Ceremony {
    /// Keyed hash of the handle the client holds.
    pub handle_hash: Vec<u8>,
    /// `registration` or `authentication`.
    pub kind: String,
    /// The client that began it.
    pub client_id: String,
    /// The customer it is for.
    pub user_id: String,
    /// The challenge state (webauthn-rs, JSON).
    pub state: String,
    /// Expires, ms.
    pub expires_at: i64,
}

/// A one-time code as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Otp {
    /// Its number.
    pub id: i64,
    /// The client that asked for it.
    pub client_id: String,
    /// The user it was sent to.
    pub user_id: String,
    /// `sms` or `email`.
    pub channel: String,
    /// Keyed hash of the code.
    pub code_hash: Vec<u8>,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Wrong attempts so far.
    pub attempts: i64,
    /// Keyed hash of what the code was sent for, if the client bound it.
    pub binding_hash: Option<Vec<u8>>,
    /// Used or retired, ms.
    pub consumed_at: Option<i64>,
}

// Message texts hold links (with `auth_req_id`) and one-time codes: never in Debug output.
impl std::fmt::Debug for NewMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// A stored authorization code.
#[derive(Clone, sqlx::FromRow)]
pub struct AuthorizationCode {
    /// Keyed hash of the code.
    pub code_hash: Vec<u8>,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who signed in.
    pub user_id: String,
    /// The redirect URI it was sent to; the token request must name the same.
    pub redirect_uri: String,
    /// Granted scopes.
    pub scope: String,
    /// The client's nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// When the user signed in, seconds.
    pub auth_time: i64,
    /// When it was issued, ms.
    pub created_at: i64,
    /// When it expires, ms.
    pub expires_at: i64,
    /// When it was redeemed, ms.
    pub used_at: Option<i64>,
    /// The grant its tokens belong to.
    pub grant_id: String,
}

impl std::fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field("client_id", &self.client_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// What redeeming a code found.
#[derive(Debug)]
pub enum CodeUse {
    /// First use: redeem it.
    Fresh(AuthorizationCode),
    /// Used before: refuse, and revoke what it gave.
    Replayed(AuthorizationCode),
    /// No such code.
    Unknown,
}
