//! Joining paths that come from remote data (published file names, hrefs in shapes.svg).

use std::path::{Component, Path, PathBuf};

/// `dir/rel` when `rel` is a plain relative path (no `..`, no root, no drive): remote data never escapes `dir`.
pub fn safe_join(dir: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    let normal = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (normal && !rel.as_os_str().is_empty()).then(|| dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_joined() {
        let dir = Path::new("/tmp/x");
        assert_eq!(
            safe_join(dir, "presentation/a/slide-1.png"),
            Some(PathBuf::from("/tmp/x/presentation/a/slide-1.png"))
        );
        for bad in ["../etc/passwd", "/etc/passwd", "a/../../b", "", "./a"] {
            assert_eq!(safe_join(dir, bad), None, "{bad}");
        }
    }
}
