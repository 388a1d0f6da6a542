//! Object storage: the S3 (or S3-compatible) bucket that holds segments and
//! manifests when they are not in the local data directory.
//!
//! [`build`] makes the `object_store` client from an [`S3Config`] (settings
//! not given fall back to the standard `AWS_*` environment variables), rooted
//! at the configured prefix. The helpers move whole files between the local
//! disk and the store with bounded memory: uploads are one PUT up to
//! [`UPLOAD_PART_BYTES`] and multipart above it, downloads are streamed.

use std::path::Path as FsPath;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};

/// Size of one part of a multipart upload; smaller files are uploaded with one PUT.
pub const UPLOAD_PART_BYTES: usize = 8 << 20;
/// Parts of one upload in flight at once (bounds an upload's memory to about
/// `(1 + UPLOAD_CONCURRENCY) * UPLOAD_PART_BYTES`).
const UPLOAD_CONCURRENCY: usize = 2;
/// Bytes read from a local file per step of an upload.
const READ_CHUNK: usize = 1 << 20;

/// An S3 or S3-compatible bucket for segments and manifests.
///
/// Settings left `None` come from the standard `AWS_*` environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`, `AWS_ENDPOINT`, ...).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// Endpoint of an S3-compatible server (e.g. `http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when neither this nor `AWS_REGION` is set).
    pub region: Option<String>,
    /// Allow plain-HTTP endpoints.
    pub allow_http: bool,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl S3Config {
    /// A bucket (and optional prefix) from an `s3://bucket/prefix` URL; other settings from the environment.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }

    /// The bucket and the prefix (without surrounding slashes, possibly empty) of [`S3Config::url`].
    pub fn bucket_and_prefix(&self) -> Result<(String, String)> {
        let rest = self
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| Error::Config(format!("object store URL {:?} must start with s3://", self.url)))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Config(format!("object store URL {:?} names no bucket", self.url)));
        }
        Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
    }
}

/// The store rooted at the configured bucket and prefix.
pub fn build(config: &S3Config) -> Result<Arc<dyn ObjectStore>> {
    let (bucket, prefix) = config.bucket_and_prefix()?;
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &config.region {
        builder = builder.with_region(region);
    }
    if config.allow_http {
        builder = builder.with_allow_http(true);
    }
    if let Some(key) = &config.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &config.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    let s3 = builder.build()?;
    Ok(if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) })
}

/// Upload the local file `local` as object `dst`; returns its size.
pub async fn upload_file(store: &dyn ObjectStore, local: &FsPath, dst: &Path) -> Result<u64> {
    let mut file = tokio::fs::File::open(local).await.map_err(|e| Error::io(local, e))?;
    let len = file.metadata().await.map_err(|e| Error::io(local, e))?.len();
    if len <= UPLOAD_PART_BYTES as u64 {
        let mut data = Vec::with_capacity(len as usize);
        file.read_to_end(&mut data).await.map_err(|e| Error::io(local, e))?;
        store.put(dst, data.into()).await?;
        return Ok(len);
    }
    let mut upload = WriteMultipart::new_with_chunk_size(store.put_multipart(dst).await?, UPLOAD_PART_BYTES);
    match copy_parts(&mut file, local, &mut upload).await {
        Ok(()) => {
            upload.finish().await?;
            Ok(len)
        }
        Err(e) => {
            if let Err(abort) = upload.abort().await {
                tracing::warn!(object = %dst, error = %abort, "aborting a failed multipart upload failed");
            }
            Err(e)
        }
    }
}

async fn copy_parts(file: &mut tokio::fs::File, local: &FsPath, upload: &mut WriteMultipart) -> Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(|e| Error::io(local, e))?;
        if n == 0 {
            return Ok(());
        }
        upload.wait_for_capacity(UPLOAD_CONCURRENCY).await?;
        upload.write(&buf[..n]);
    }
}

/// Download object `src` into the local file `local` (created or truncated); returns its size.
pub async fn download_file(store: &dyn ObjectStore, src: &Path, local: &FsPath) -> Result<u64> {
    let mut stream = store.get(src).await?.into_stream();
    let mut file = tokio::fs::File::create(local).await.map_err(|e| Error::io(local, e))?;
    let mut len = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        len += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(|e| Error::io(local, e))?;
    }
    file.flush().await.map_err(|e| Error::io(local, e))?;
    Ok(len)
}

/// Delete object `path`; a missing object is fine.
pub async fn delete(store: &dyn ObjectStore, path: &Path) -> Result<()> {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Every object under `prefix` (all objects when `None`).
pub async fn list(store: &dyn ObjectStore, prefix: Option<&Path>) -> Result<Vec<ObjectMeta>> {
    Ok(store.list(prefix).try_collect().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_bucket_and_prefix() {
        let parts = |u: &str| S3Config::new(u).bucket_and_prefix();
        assert_eq!(parts("s3://b").expect("ok"), ("b".into(), String::new()));
        assert_eq!(parts("s3://b/").expect("ok"), ("b".into(), String::new()));
        assert_eq!(parts("s3://b/tw/prod/").expect("ok"), ("b".into(), "tw/prod".into()));
        assert!(parts("gs://b").is_err());
        assert!(parts("s3:///x").is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = S3Config { secret_access_key: Some("hunter2".into()), ..S3Config::new("s3://b") };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
