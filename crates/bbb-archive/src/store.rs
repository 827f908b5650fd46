//! An S3-compatible bucket as the archive's destination, through `object_store` (rustls, no OpenSSL).
//!
//! The bucket holds exactly what an archive directory holds, under a prefix: `<prefix>/presentation/<id>/…`,
//! `<prefix>/playback/video/<id>/…` and `<prefix>/manifests/<id>/bbb-migrate-manifest.json`. Files are
//! downloaded, hashed and completed in a local staging directory first (so that downloads resume as in a local
//! archive), then uploaded with their SHA-256 twice: as the request's `x-amz-checksum-sha256`, which the server
//! checks against what it received, and as the object's metadata `x-amz-meta-sha256`, which a later run compares
//! with the manifest to leave the object alone. An object appears only whole (a PUT, or a multipart upload
//! completed at the end), so invariant 4 holds in a bucket too. [`Bucket::hash`] reads an object back for
//! `--verify`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// Files up to this size are sent in one PUT; larger ones as a multipart upload of parts this large.
const PART: usize = 16 * 1024 * 1024;
/// The user metadata key holding an object's SHA-256 (`x-amz-meta-sha256`).
const SHA_KEY: &str = "sha256";

/// How to reach the bucket. The secret is only handed to the S3 client; nothing here prints it.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// `https://s3.fr-par.scw.cloud`, `http://127.0.0.1:9000`; empty: AWS S3 of `region`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"****")
            .finish()
    }
}

/// Why the bucket could not be used. Messages name the object, never the credentials.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}: not an s3://BUCKET/PREFIX address")]
    BadUrl(String),
    #[error("cannot set up the S3 client: {0}")]
    Setup(String),
    #[error("{key}: {message}")]
    Object { key: String, message: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// What the bucket says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub size: u64,
    /// The SHA-256 recorded when bbb-migrate uploaded it (`None`: uploaded by something else).
    pub sha256: Option<String>,
}

/// An archive in a bucket, under a prefix.
#[derive(Clone)]
pub struct Bucket {
    store: Arc<AmazonS3>,
    bucket: String,
    /// Without leading or trailing `/`; may be empty.
    prefix: String,
}

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}/", self.bucket)
        } else {
            write!(f, "s3://{}/{}/", self.bucket, self.prefix)
        }
    }
}

/// `bucket` and `prefix` of `s3://bucket/prefix`; `None` for anything else.
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(valid) {
        return None;
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") || prefix.contains('\\') {
        return None;
    }
    Some((bucket.to_owned(), prefix.to_owned()))
}

impl Bucket {
    /// The bucket of `url` (`s3://bucket/prefix`). Nothing is sent yet.
    pub fn connect(url: &str, settings: &S3Settings) -> Result<Self, StoreError> {
        let (bucket, prefix) = parse_s3_url(url).ok_or_else(|| StoreError::BadUrl(url.to_owned()))?;
        let region = if settings.region.is_empty() { "us-east-1" } else { settings.region.as_str() };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region(region)
            .with_checksum_algorithm(object_store::aws::Checksum::SHA256);
        if !settings.endpoint.is_empty() {
            builder = builder
                .with_endpoint(settings.endpoint.trim_end_matches('/'))
                .with_allow_http(settings.endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if !settings.access_key_id.is_empty() {
            builder =
                builder.with_access_key_id(&settings.access_key_id).with_secret_access_key(&settings.secret_access_key);
        }
        let store = builder.build().map_err(|e| StoreError::Setup(e.to_string()))?;
        Ok(Self { store: Arc::new(store), bucket, prefix })
    }

    /// The object key of `rel` (a path relative to the archive root).
    fn key(&self, rel: &str) -> Key {
        let parts = self.prefix.split('/').chain(rel.split('/')).filter(|p| !p.is_empty());
        Key::from_iter(parts)
    }

    /// `s3://bucket/prefix/rel`, for messages and the ledger.
    pub fn location(&self, rel: &str) -> String {
        format!("{self}{rel}")
    }

    fn error(&self, rel: &str, e: impl fmt::Display) -> StoreError {
        StoreError::Object { key: self.location(rel), message: e.to_string() }
    }

    /// Size and recorded SHA-256 of `rel`; `None` when there is no such object.
    pub async fn head(&self, rel: &str) -> Result<Option<Remote>, StoreError> {
        let options = GetOptions { head: true, ..GetOptions::default() };
        match self.store.get_opts(&self.key(rel), options).await {
            Ok(result) => {
                let sha256 = result
                    .attributes
                    .get(&Attribute::Metadata(SHA_KEY.into()))
                    .map(|v| v.as_ref().to_owned())
                    .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
                Ok(Some(Remote { size: result.meta.size, sha256 }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(rel, e)),
        }
    }

    fn attributes(sha256: &str, content_type: Option<&str>) -> Attributes {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::Metadata(SHA_KEY.into()), AttributeValue::from(sha256.to_owned()));
        if let Some(ct) = content_type {
            attributes.insert(Attribute::ContentType, AttributeValue::from(ct.to_owned()));
        }
        attributes
    }

    /// Uploads the local file `local` as `rel`, recording `sha256` (which the caller computed while downloading).
    pub async fn upload(&self, rel: &str, local: &Path, size: u64, sha256: &str) -> Result<(), StoreError> {
        let io = |source| StoreError::Io { path: local.display().to_string(), source };
        let key = self.key(rel);
        let attributes = Self::attributes(sha256, content_type(rel));
        if size <= PART as u64 {
            let bytes = tokio::fs::read(local).await.map_err(io)?;
            let options = PutOptions { attributes, ..PutOptions::default() };
            self.store.put_opts(&key, PutPayload::from(bytes), options).await.map_err(|e| self.error(rel, e))?;
            return Ok(());
        }
        let options = PutMultipartOptions { attributes, ..PutMultipartOptions::default() };
        let upload = self.store.put_multipart_opts(&key, options).await.map_err(|e| self.error(rel, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut file = tokio::fs::File::open(local).await.map_err(io)?;
        let mut buf = vec![0; 1024 * 1024];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(io(e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(2).await {
                return Err(self.error(rel, e));
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(|e| self.error(rel, e))?;
        Ok(())
    }

    /// Writes `bytes` as `rel` (the manifest).
    pub async fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let sha = hex::encode(Sha256::digest(&bytes));
        let options = PutOptions { attributes: Self::attributes(&sha, content_type(rel)), ..PutOptions::default() };
        self.store.put_opts(&self.key(rel), PutPayload::from(bytes), options).await.map_err(|e| self.error(rel, e))?;
        Ok(())
    }

    /// The content of `rel`; `None` when there is no such object.
    pub async fn get_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store.get(&self.key(rel)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| self.error(rel, e))?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(rel, e)),
        }
    }

    /// Size and SHA-256 of `rel` as stored, read back in full; `None` when there is no such object.
    pub async fn hash(&self, rel: &str) -> Result<Option<(u64, String)>, StoreError> {
        let result = match self.store.get(&self.key(rel)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(rel, e)),
        };
        let mut stream = result.into_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(rel, e))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        Ok(Some((size, hex::encode(hasher.finalize()))))
    }

    /// Removes `rel` (tests damage an archive with it; nothing in the archiver deletes).
    pub async fn delete(&self, rel: &str) -> Result<(), StoreError> {
        self.store.delete(&self.key(rel)).await.map_err(|e| self.error(rel, e))
    }
}

/// The `Content-Type` a web server would give `rel`, so that a bucket served as a website plays media.
fn content_type(rel: &str) -> Option<&'static str> {
    let ext = rel.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "xml" => "text/xml",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "vtt" => "text/vtt",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webm" => "video/webm",
        "mp4" | "m4v" => "video/mp4",
        "ogg" => "audio/ogg",
        "css" => "text/css",
        "js" => "text/javascript",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(parse_s3_url("s3://bbb-archive"), Some(("bbb-archive".into(), String::new())));
        assert_eq!(parse_s3_url("s3://bbb-archive/univ/2024/"), Some(("bbb-archive".into(), "univ/2024".into())));
        for bad in ["/srv/archive", "s3://", "s3://Upper/x", "s3://ok-bucket/../x", "s3://ab/x", "s3://b_b_b/x"] {
            assert_eq!(parse_s3_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn settings_never_show_the_secret() {
        let s = S3Settings { secret_access_key: "wJalrXUtnFEMI".into(), ..S3Settings::default() };
        assert!(!format!("{s:?}").contains("wJalr"));
    }

    #[test]
    fn keys_keep_the_archive_layout_under_the_prefix() {
        let settings = S3Settings { endpoint: "http://127.0.0.1:9".into(), ..S3Settings::default() };
        let bucket = Bucket::connect("s3://archive/univ", &settings).unwrap();
        assert_eq!(bucket.key("presentation/abc-1/shapes.svg").as_ref(), "univ/presentation/abc-1/shapes.svg");
        assert_eq!(bucket.location("manifests/abc-1/x.json"), "s3://archive/univ/manifests/abc-1/x.json");
        let bare = Bucket::connect("s3://archive", &settings).unwrap();
        assert_eq!(bare.key("presentation/abc-1/a.png").as_ref(), "presentation/abc-1/a.png");
    }
}
