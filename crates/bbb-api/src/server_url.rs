//! The old server's address, in whatever form an admin copied it from.

use url::Url;

/// The configured server address could not be turned into an API base URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerUrlError {
    #[error("`{0}` is not a URL (expected e.g. https://bbb.univ.fr/bigbluebutton/)")]
    NotAUrl(String),
    #[error("`{0}` must start with http:// or https://")]
    Scheme(String),
    #[error("`{0}` must not carry a query string or fragment")]
    Query(String),
}

/// The API base (`…/bigbluebutton/api/`, always with a trailing slash) for any of the forms admins copy:
/// `https://host/`, `https://host/bigbluebutton/`, `https://host/bigbluebutton/api` (old Pod script's
/// `SCRIPT_BBB_SERVER_URL`, Pod's `BBB_API_URL`, Greenlight's `BIGBLUEBUTTON_ENDPOINT`). A Scalelite or proxy
/// mounted under a sub-path keeps that path.
pub fn api_base_url(input: &str) -> Result<Url, ServerUrlError> {
    let trimmed = input.trim();
    let mut url = Url::parse(trimmed).map_err(|_| ServerUrlError::NotAUrl(trimmed.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ServerUrlError::Scheme(trimmed.to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ServerUrlError::Query(trimmed.to_owned()));
    }
    let mut segments: Vec<String> =
        url.path_segments().map(|s| s.filter(|p| !p.is_empty()).map(str::to_owned).collect()).unwrap_or_default();
    match segments.last().map(String::as_str) {
        Some("api") if segments.len() >= 2 && segments[segments.len() - 2] == "bigbluebutton" => {}
        Some("bigbluebutton") => segments.push("api".into()),
        _ => segments.extend(["bigbluebutton".into(), "api".into()]),
    }
    url.set_path(&format!("/{}/", segments.join("/")));
    Ok(url)
}

/// The server's web root (scheme, host, port and any mount path), where `/playback/…` and `/presentation/…` live.
pub fn web_root(api_base: &Url) -> Url {
    let mut root = api_base.clone();
    let path = api_base.path().trim_end_matches('/');
    let base = path.strip_suffix("/bigbluebutton/api").unwrap_or(path);
    root.set_path(&format!("{base}/"));
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_form_gives_the_same_base() {
        for form in [
            "https://bbb.univ.fr",
            "https://bbb.univ.fr/",
            "https://bbb.univ.fr/bigbluebutton",
            "https://bbb.univ.fr/bigbluebutton/",
            "https://bbb.univ.fr/bigbluebutton/api",
            "https://bbb.univ.fr/bigbluebutton/api/",
            "  https://bbb.univ.fr/bigbluebutton/api/ ",
        ] {
            assert_eq!(api_base_url(form).unwrap().as_str(), "https://bbb.univ.fr/bigbluebutton/api/", "{form}");
        }
    }

    #[test]
    fn sub_paths_and_ports_are_kept() {
        let url = api_base_url("http://127.0.0.1:8090/scalelite/bigbluebutton/api").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8090/scalelite/bigbluebutton/api/");
        assert_eq!(web_root(&url).as_str(), "http://127.0.0.1:8090/scalelite/");
        assert_eq!(web_root(&api_base_url("https://h").unwrap()).as_str(), "https://h/");
    }

    #[test]
    fn bad_forms_are_refused() {
        assert!(matches!(api_base_url("bbb.univ.fr"), Err(ServerUrlError::NotAUrl(_))));
        assert!(matches!(api_base_url("ftp://bbb.univ.fr/"), Err(ServerUrlError::Scheme(_))));
        assert!(matches!(api_base_url("https://h/bigbluebutton/api?x=1"), Err(ServerUrlError::Query(_))));
    }
}
