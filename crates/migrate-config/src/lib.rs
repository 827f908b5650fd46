//! bbb-migrate's configuration: one TOML file plus `BBB_MIGRATE_<SECTION>__<KEY>` environment variables.
//!
//! - [`load`] / [`load_from`] find and read it ([`ConfigError`] names the file, line or key);
//! - [`Config::check`] lists every problem at once (for `config check`), each with its key and a fix;
//! - [`template`] is the commented file `config init` writes; [`Config::redacted`] is what `config show`
//!   prints.
//!
//! This crate is the only place secrets live in clear ([`Secret`]): nothing here prints one — not `Debug`,
//! not `Display`, not errors, not problems — and URL passwords are masked ([`mask_url_password`]).

mod check;
mod lenient;
mod load;
mod model;
mod secret;

pub use check::{Problem, Severity};
pub use load::{
    CONFIG_PATH_ENV, ConfigError, ConfigSource, DEFAULT_FILE_NAME, ENV_PREFIX, Loaded, env_var_name, load, load_from,
};
pub use model::{
    ArchiveConfig, ClaimConfig, Config, DEFAULT_LEDGER_DATABASE, GreenlightConfig, LedgerConfig, MoodleConfig,
    NewUsersConfig, NoticeConfig, OWNER_SOURCES, OwnersConfig, PodConfig, QueueConfig, RenderConfig, SourceConfig,
};
pub use secret::{Secret, mask_url_password};

/// The commented configuration file written by `config init`: every key with its default and its
/// environment variable. Loading it unchanged gives [`Config::default`].
pub fn template() -> &'static str {
    include_str!("template.toml")
}
