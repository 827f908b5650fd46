//! The configuration's shape and defaults. Field names are the TOML keys.

use std::fmt;
use std::path::PathBuf;

use bbb_api::ChecksumAlgorithm;
use serde::{Deserialize, Serialize};

use crate::lenient;
use crate::secret::{Secret, mask_url_password};

/// Everything bbb-migrate can be told. Every key has a default, so an empty file is a valid file;
/// [`Config::check`](crate::Config::check) says what is still missing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub source: SourceConfig,
    pub ledger: LedgerConfig,
    pub pod: PodConfig,
    /// `[[moodle]]`: one entry per Moodle whose database tells who recorded what.
    pub moodle: Vec<MoodleConfig>,
    /// `[[greenlight]]`: one entry per Greenlight (v2 or v3) whose database knows the room owners.
    pub greenlight: Vec<GreenlightConfig>,
    pub owners: OwnersConfig,
    pub notice: NoticeConfig,
    pub render: RenderConfig,
    pub claim: ClaimConfig,
    pub queue: QueueConfig,
    pub archive: ArchiveConfig,
}

/// `[source]`: the old BigBlueButton or Scalelite server whose recordings are migrated.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// Any form an admin copies (`https://host/`, `…/bigbluebutton/`, `…/bigbluebutton/api`); see
    /// [`Config::source_api_url`](crate::Config::source_api_url).
    pub url: String,
    /// The BBB shared secret (`bbb-conf --secret`, Scalelite's `LOADBALANCER_SECRET`).
    pub secret: Secret,
    /// Where `secret` was read from, when it came from a file (absolute after loading).
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_path")]
    pub secret_file: Option<PathBuf>,
    /// Checksum algorithm the server accepts.
    #[serde(deserialize_with = "lenient::from_str")]
    pub checksum: ChecksumAlgorithm,
    /// getRecordings `limit` (BBB caps it at 100).
    #[serde(deserialize_with = "lenient::number")]
    pub page_size: u32,
    /// Whole-request timeout, seconds.
    #[serde(deserialize_with = "lenient::number")]
    pub timeout_secs: u64,
    /// TCP/TLS connect timeout, seconds.
    #[serde(deserialize_with = "lenient::number")]
    pub connect_timeout_secs: u64,
    /// Retries on timeouts and 5xx answers.
    #[serde(deserialize_with = "lenient::number")]
    pub retries: u32,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            secret: Secret::default(),
            secret_file: None,
            checksum: ChecksumAlgorithm::Sha1,
            page_size: 100,
            timeout_secs: 30,
            connect_timeout_secs: 10,
            retries: 3,
        }
    }
}

/// Hand-written so that a password in the URL (`https://user:pass@host/`) is masked.
impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceConfig")
            .field("url", &mask_url_password(&self.url))
            .field("secret", &self.secret)
            .field("secret_file", &self.secret_file)
            .field("checksum", &self.checksum)
            .field("page_size", &self.page_size)
            .field("timeout_secs", &self.timeout_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("retries", &self.retries)
            .finish()
    }
}

/// The default ledger: a SQLite file in the current directory, fine for a single machine.
pub const DEFAULT_LEDGER_DATABASE: &str = "sqlite://bbb-migrate-ledger.sqlite";

/// `[ledger]`: where runs record what they saw and did, so they resume and never repeat work.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// `sqlite://PATH` or `postgres://user:password@host/db` (may hold a password: shown masked).
    pub database: String,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self { database: DEFAULT_LEDGER_DATABASE.to_owned() }
    }
}

impl fmt::Debug for LedgerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerConfig").field("database", &mask_url_password(&self.database)).finish()
    }
}

/// `[pod]`: the Esup-Pod instance recordings go to (used by `migrate`, later).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PodConfig {
    /// Pod's database URL (may hold a password: shown masked).
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_string")]
    pub database: Option<String>,
    /// Pod's Django `SECRET_KEY` (may be empty).
    pub secret_key: Secret,
    /// Where `secret_key` was read from, when it came from a file (absolute after loading).
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_path")]
    pub secret_key_file: Option<PathBuf>,
    /// Django `SITE_ID`.
    #[serde(deserialize_with = "lenient::number")]
    pub site_id: u32,
    /// Pod user who gets the recordings whose owner cannot be found.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_string")]
    pub fallback_owner: Option<String>,
    /// Pod recorder used for claimable videos.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_number")]
    pub recorder_id: Option<u32>,
    /// That recorder's directory.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_string")]
    pub recorder_path: Option<String>,
    /// `username` or `email`: how owners found elsewhere are matched to Pod users.
    pub match_users_by: String,
    pub new_users: NewUsersConfig,
}

impl Default for PodConfig {
    fn default() -> Self {
        Self {
            database: None,
            secret_key: Secret::default(),
            secret_key_file: None,
            site_id: 1,
            fallback_owner: None,
            recorder_id: None,
            recorder_path: None,
            match_users_by: "username".to_owned(),
            new_users: NewUsersConfig::default(),
        }
    }
}

impl fmt::Debug for PodConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PodConfig")
            .field("database", &self.database.as_deref().map(mask_url_password))
            .field("secret_key", &self.secret_key)
            .field("secret_key_file", &self.secret_key_file)
            .field("site_id", &self.site_id)
            .field("fallback_owner", &self.fallback_owner)
            .field("recorder_id", &self.recorder_id)
            .field("recorder_path", &self.recorder_path)
            .field("match_users_by", &self.match_users_by)
            .field("new_users", &self.new_users)
            .finish()
    }
}

/// `[pod.new_users]`: profile of the Pod accounts created for owners who never logged in to Pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewUsersConfig {
    pub auth_type: String,
    pub affiliation: String,
    pub establishment: String,
}

impl Default for NewUsersConfig {
    fn default() -> Self {
        Self { auth_type: "CAS".to_owned(), affiliation: "member".to_owned(), establishment: String::new() }
    }
}

/// `[[moodle]]`: a Moodle database, for recordings whose `bbb-origin-server-name` is `server_name`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MoodleConfig {
    /// The recordings' `bbb-origin-server-name` (the old script's `DB_PARAMS` key; `default` for recordings
    /// without one).
    pub server_name: String,
    /// `postgres://…` or `mysql://…` (may hold a password: shown masked).
    pub database: String,
    pub table_prefix: String,
}

impl Default for MoodleConfig {
    fn default() -> Self {
        Self { server_name: String::new(), database: String::new(), table_prefix: "mdl_".to_owned() }
    }
}

impl fmt::Debug for MoodleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MoodleConfig")
            .field("server_name", &self.server_name)
            .field("database", &mask_url_password(&self.database))
            .field("table_prefix", &self.table_prefix)
            .finish()
    }
}

/// `[[greenlight]]`: a Greenlight database (PostgreSQL; v2 or v3, detected from its tables).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GreenlightConfig {
    /// The recordings' `bbb-origin-server-name` this Greenlight is for; empty = every Greenlight recording.
    pub server_name: String,
    /// `postgres://…` (may hold a password: shown masked).
    pub database: String,
}

impl fmt::Debug for GreenlightConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenlightConfig")
            .field("server_name", &self.server_name)
            .field("database", &mask_url_password(&self.database))
            .finish()
    }
}

/// The owner sources `owners.order` may name.
pub const OWNER_SOURCES: [&str; 4] = ["pod", "moodle", "greenlight", "metadata"];

/// `[owners]`: how the owner of a recording is found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OwnersConfig {
    /// Sources asked in this order; the first that knows wins.
    #[serde(deserialize_with = "lenient::string_list")]
    pub order: Vec<String>,
    /// `bbb-origin-server-name`s not looked up in Moodle (the old script's `IGNORED_SERVERS`).
    #[serde(deserialize_with = "lenient::string_list")]
    pub ignore_servers: Vec<String>,
    /// Recording metadata keys holding an owner's username (for front-ends that write one).
    #[serde(deserialize_with = "lenient::string_list")]
    pub metadata_username_keys: Vec<String>,
    /// Recording metadata keys holding an owner's e-mail address.
    #[serde(deserialize_with = "lenient::string_list")]
    pub metadata_email_keys: Vec<String>,
    /// Moodle: also give a recording to the user who started its session (the `Create` log), besides the
    /// activity's moderators.
    #[serde(deserialize_with = "lenient::boolean")]
    pub moodle_session_starter: bool,
}

impl Default for OwnersConfig {
    fn default() -> Self {
        Self {
            order: OWNER_SOURCES.iter().map(|s| (*s).to_owned()).collect(),
            ignore_servers: Vec::new(),
            metadata_username_keys: Vec::new(),
            metadata_email_keys: Vec::new(),
            moodle_session_starter: false,
        }
    }
}

/// `[notice]`: the message `bbb-migrate notice` adds to the description of the Moodle activities concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoticeConfig {
    /// HTML with `{link}`, `{activity}` and `{recordings}`.
    pub template: String,
    /// What `{link}` becomes: where the recordings are now (the Pod site).
    pub link: String,
}

impl Default for NoticeConfig {
    fn default() -> Self {
        Self {
            template: "<p><strong>Enregistrements déplacés</strong> : les {recordings} enregistrement(s) de cette \
                       activité sont désormais sur <a href=\"{link}\">{link}</a>.</p>"
                .to_owned(),
            link: String::new(),
        }
    }
}

/// `[render]`: turning presentation recordings into videos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderConfig {
    /// `WIDTHxHEIGHT`, both even (H.264 needs it).
    pub size: String,
    pub layout: String,
    /// The ffmpeg executable (name looked up in `PATH`, or a path); ffprobe is the one beside it
    /// ([`RenderConfig::ffprobe`]).
    pub ffmpeg: String,
    /// Frames per second of rendered videos; unset: 15 with video on screen, else 5.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_number")]
    pub fps: Option<u32>,
    /// x264 preset: faster presets render faster and make bigger files (claim mode renders thousands).
    pub x264_preset: String,
    /// x264 options over the preset (`key=value:…`); empty: the preset alone.
    pub x264_params: String,
}

impl RenderConfig {
    /// ffprobe from the same place as `ffmpeg`: a static build unpacked in `/opt` brings both, and checking
    /// with another version than the one that wrote the file would prove little.
    pub fn ffprobe(&self) -> std::path::PathBuf {
        let ffmpeg = std::path::Path::new(&self.ffmpeg);
        match ffmpeg.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join("ffprobe"),
            _ => "ffprobe".into(),
        }
    }
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            size: "1280x720".to_owned(),
            layout: "auto".to_owned(),
            ffmpeg: "ffmpeg".to_owned(),
            fps: None,
            x264_preset: "veryfast".to_owned(),
            x264_params: "bframes=0:me=dia:subme=1".to_owned(),
        }
    }
}

/// `[claim]`: the video files claim mode writes into the recorder directory. Pod's encoders usually run as
/// another user than bbb-migrate, so the files can be handed over (`chown`/`chmod`) before Pod sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimConfig {
    /// User name or numeric uid the files are given to.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_string")]
    pub owner: Option<String>,
    /// Group name or numeric gid.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_string")]
    pub group: Option<String>,
    /// Octal permissions, e.g. "0664".
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_string")]
    pub mode: Option<String>,
}

impl ClaimConfig {
    /// The `mode` key as permission bits, if set and valid octal.
    pub fn mode_bits(&self) -> Option<Result<u32, String>> {
        self.mode.as_deref().map(|m| {
            u32::from_str_radix(m.trim().trim_start_matches("0o"), 8)
                .ok()
                .filter(|bits| *bits <= 0o7777)
                .ok_or_else(|| format!("`{m}` is not an octal file mode like \"0664\""))
        })
    }
}

/// `[queue]`: RabbitMQ, to spread work over several `worker`s (optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// `amqp://user:password@host/vhost`; unset = work locally.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient::optional_secret")]
    pub amqp_url: Option<Secret>,
    pub queue: String,
    /// Deliveries a job gets (first try included) before it goes to `<queue>.dead`.
    #[serde(deserialize_with = "lenient::number")]
    pub max_attempts: u32,
    /// Wait before the second attempt, in milliseconds; doubled after each failure, at most 30 minutes.
    #[serde(deserialize_with = "lenient::number")]
    pub retry_delay_ms: u64,
    /// Jobs one `worker` runs at once.
    #[serde(deserialize_with = "lenient::number")]
    pub prefetch: u16,
    /// A worker's ledger lease on the job it runs, renewed every third of it: a dead worker's job is taken over
    /// after at most this long.
    #[serde(deserialize_with = "lenient::number")]
    pub lease_secs: u64,
    /// After SIGTERM/SIGINT, how long a worker lets its running jobs finish before requeueing them.
    #[serde(deserialize_with = "lenient::number")]
    pub shutdown_grace_secs: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            amqp_url: None,
            queue: "bbb-migrate".to_owned(),
            max_attempts: 5,
            retry_delay_ms: 30_000,
            prefetch: 1,
            lease_secs: 300,
            shutdown_grace_secs: 60,
        }
    }
}

/// `[archive]`: where `archive` copies go when they are not a local directory, and where the archive is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// The archive's public address (`https://archive.univ.fr`), for the notice's `{archive}`.
    pub base_url: String,
    /// S3-compatible endpoint for `archive s3://bucket/prefix` (`https://s3.fr-par.scw.cloud`); empty: AWS.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Local directory where files wait between download and upload; empty: the system's temporary directory.
    pub staging_dir: String,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            endpoint: String::new(),
            region: "us-east-1".to_owned(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            staging_dir: String::new(),
        }
    }
}

impl Config {
    /// The effective configuration as TOML, for `config show`: secrets as `****`, URL passwords masked,
    /// unset optional keys left out.
    pub fn redacted(&self) -> String {
        let mut table = match toml::Table::try_from(self) {
            Ok(table) => table,
            // Only a non-UTF-8 secret_file path can get here.
            Err(err) => return format!("# cannot show the configuration: {err}\n"),
        };
        let mask_in = |table: &mut toml::Table, section: &str, key: &str| {
            if let Some(toml::Value::String(value)) =
                table.get_mut(section).and_then(|s| s.as_table_mut()).and_then(|s| s.get_mut(key))
            {
                *value = mask_url_password(value);
            }
        };
        mask_in(&mut table, "source", "url");
        mask_in(&mut table, "ledger", "database");
        mask_in(&mut table, "pod", "database");
        for section in ["moodle", "greenlight"] {
            if let Some(toml::Value::Array(entries)) = table.get_mut(section) {
                for entry in entries {
                    if let Some(toml::Value::String(value)) = entry.as_table_mut().and_then(|e| e.get_mut("database")) {
                        *value = mask_url_password(value);
                    }
                }
            }
        }
        // The AMQP URL is a `Secret` (serialized as ****); showing its host and vhost helps, its password not.
        if let (Some(amqp), Some(queue)) = (&self.queue.amqp_url, table.get_mut("queue").and_then(|q| q.as_table_mut()))
        {
            let shown = match url::Url::parse(amqp.expose()) {
                Ok(_) => mask_url_password(amqp.expose()),
                Err(_) => crate::secret::MASK.to_owned(),
            };
            queue.insert("amqp_url".to_owned(), toml::Value::String(shown));
        }
        toml::to_string(&table).unwrap_or_else(|err| format!("# cannot show the configuration: {err}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::RenderConfig;
    use std::path::PathBuf;

    #[test]
    fn ffprobe_comes_from_where_ffmpeg_does() {
        let with = |ffmpeg: &str| RenderConfig { ffmpeg: ffmpeg.into(), ..RenderConfig::default() }.ffprobe();
        assert_eq!(with("ffmpeg"), PathBuf::from("ffprobe"));
        assert_eq!(with("/opt/ffmpeg-7/bin/ffmpeg"), PathBuf::from("/opt/ffmpeg-7/bin/ffprobe"));
        assert_eq!(with("./tools/ffmpeg"), PathBuf::from("./tools/ffprobe"));
    }
}
