//! Secrets never go on the command line: every user of the host sees a process's arguments (`ps`,
//! `/proc/PID/cmdline`) and shells keep them in their history. Before parsing, the arguments are searched for a
//! secret flag (`--secret`, as the old script and other BBB tools take it) and for URLs holding a password; either
//! is refused with where the value belongs instead. The refusal itself shows the URL masked.

use std::ffi::OsString;

/// Flags other tools take a secret with; none is ours, each is answered with where the secret goes.
const SECRET_FLAGS: &[(&str, &str)] = &[
    ("--secret", "the old server's secret: BBB_MIGRATE_SOURCE__SECRET, or source.secret_file (a root-only file)"),
    ("--bbb-secret", "the old server's secret: BBB_MIGRATE_SOURCE__SECRET, or source.secret_file (a root-only file)"),
    (
        "--shared-secret",
        "the old server's secret: BBB_MIGRATE_SOURCE__SECRET, or source.secret_file (a root-only file)",
    ),
    ("--secret-key", "Pod's SECRET_KEY: BBB_MIGRATE_POD__SECRET_KEY, or pod.secret_key_file (a root-only file)"),
    ("--pod-secret-key", "Pod's SECRET_KEY: BBB_MIGRATE_POD__SECRET_KEY, or pod.secret_key_file (a root-only file)"),
    ("--password", "a database or broker password: the URL in the configuration file, or its BBB_MIGRATE_* variable"),
];

/// Why the command line is refused, or `None` when it carries no secret.
pub fn refuse_secrets(args: &[OsString]) -> Option<String> {
    for arg in args.iter().skip(1) {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        let flag = arg.split('=').next().unwrap_or_default();
        if let Some((flag, home)) = SECRET_FLAGS.iter().find(|(f, _)| *f == flag) {
            return Some(format!(
                "{flag} is refused: a secret on the command line is visible to every user of this host (ps, \
                 /proc, shell history). Give {home}"
            ));
        }
        if let Some(masked) = url_with_password(&arg) {
            return Some(format!(
                "`{masked}` holds a password, refused on the command line: every user of this host can read a \
                 process's arguments (ps, /proc, shell history). Put the URL in the configuration file (readable by \
                 its owner only) or its BBB_MIGRATE_* variable; for `bench`, in BBB_MIGRATE_BENCH_SERVER, \
                 BBB_MIGRATE_BENCH_LEDGER or BBB_MIGRATE_BENCH_AMQP_URL"
            ));
        }
    }
    None
}

/// `arg` (or the value of `--flag=VALUE`) masked, when it contains a URL whose user info has a password.
fn url_with_password(arg: &str) -> Option<String> {
    let start = arg.find("://")?;
    let rest = &arg[start + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let (userinfo, _host) = authority.rsplit_once('@')?;
    let (_user, password) = userinfo.split_once(':')?;
    if password.is_empty() {
        return None;
    }
    let password_start = start + 3 + userinfo.len() - password.len();
    Some(format!("{}****{}", &arg[..password_start], &arg[password_start + password.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> Option<String> {
        let args: Vec<OsString> = std::iter::once("bbb-migrate").chain(args.iter().copied()).map(Into::into).collect();
        refuse_secrets(&args)
    }

    #[test]
    fn secret_flags_are_refused_with_where_the_secret_goes() {
        let e = check(&["--secret", "s3cr3t", "inventory"]).unwrap();
        assert!(e.contains("BBB_MIGRATE_SOURCE__SECRET") && e.contains("source.secret_file"), "{e}");
        assert!(!e.contains("s3cr3t"));
        let e = check(&["inventory", "--secret=s3cr3t"]).unwrap();
        assert!(e.starts_with("--secret is refused") && !e.contains("s3cr3t"), "{e}");
        assert!(check(&["migrate", "--pod-secret-key", "k"]).unwrap().contains("BBB_MIGRATE_POD__SECRET_KEY"));
        // After `--` nothing is a flag; a value that merely looks like one is not refused.
        assert!(check(&["render", "--", "--secret"]).is_none());
        assert!(check(&["inventory", "--state", "any"]).is_none());
    }

    #[test]
    fn urls_with_a_password_are_refused_masked() {
        let e = check(&["bench", "owners", "--server", "postgres://admin:Pa55@db.univ.fr:5432/postgres"]).unwrap();
        assert!(e.contains("`postgres://admin:****@db.univ.fr:5432/postgres`"), "{e}");
        assert!(!e.contains("Pa55") && e.contains("BBB_MIGRATE_BENCH_SERVER"), "{e}");
        let e = check(&["bench", "queue", "--amqp-url=amqp://u:p%40ss@mq/%2f"]).unwrap();
        assert!(e.contains("--amqp-url=amqp://u:****@mq/%2f") && !e.contains("p%40ss"), "{e}");
        // A password containing '@' still ends at the last '@' of the authority.
        let e = check(&["render", "https://u:a@b@old.univ.fr/playback/x"]).unwrap();
        assert!(e.contains("https://u:****@old.univ.fr/playback/x"), "{e}");
        // No password: fine (a user name alone, an '@' in the path, plain URLs).
        for ok in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "https://old.univ.fr/playback/presentation/2.3/abc",
            "https://old.univ.fr/a@b:c",
            "amqp://guest:@mq/",
            "sqlite:///tmp/ledger.sqlite",
        ] {
            assert!(check(&["render", ok]).is_none(), "{ok}");
        }
    }
}
