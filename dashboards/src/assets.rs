//! The UI's files, compiled into the binary from `ui/`.

/// An embedded file: path under `ui/`, content type, bytes.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Path relative to `ui/` (`js/app.js`).
    pub path: &'static str,
    /// The `content-type` it is served with.
    pub content_type: &'static str,
    /// The file.
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        /// Every file of `ui/`.
        pub const ASSETS: &[Asset] = &[$(Asset {
            path: $path,
            content_type: content_type($path),
            bytes: include_bytes!(concat!("../ui/", $path)),
        }),*];
    };
}

assets!(
    "index.html",
    "favicon.svg",
    "css/app.css",
    "js/alerts.js",
    "js/api.js",
    "js/app.js",
    "js/chart.js",
    "js/dashboards.js",
    "js/dom.js",
    "js/explore.js",
    "js/format.js",
    "js/login.js",
    "js/logs.js",
    "js/macros.js",
    "js/panels.js",
    "js/router.js",
    "js/series.js",
    "js/table.js",
    "js/time.js",
);

const fn content_type(path: &str) -> &'static str {
    let b = path.as_bytes();
    if ends_with(b, b".html") {
        "text/html; charset=utf-8"
    } else if ends_with(b, b".js") {
        "text/javascript; charset=utf-8"
    } else if ends_with(b, b".css") {
        "text/css; charset=utf-8"
    } else if ends_with(b, b".svg") {
        "image/svg+xml"
    } else {
        "application/octet-stream"
    }
}

const fn ends_with(b: &[u8], suffix: &[u8]) -> bool {
    if b.len() < suffix.len() {
        return false;
    }
    let mut i = 0;
    while i < suffix.len() {
        if b[b.len() - suffix.len() + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The asset at `path` (relative to `ui/`).
pub fn get(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `ui/` is embedded, and nothing else: a new file
    /// must be added to the list above.
    #[test]
    fn every_ui_file_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).expect("read ui dir") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.push(p.strip_prefix(root).expect("prefix").to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk = Vec::new();
        walk(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        assert_eq!(get("js/app.js").map(|a| a.content_type), Some("text/javascript; charset=utf-8"));
    }
}
