//! The `archive` command as a subprocess, in one test binary: to a local directory (`local`), into the Moodle
//! notice (`notice`), through a protected Scalelite front (`protected`), by queued workers (`queue`) and to an
//! S3 bucket (`s3`). The demo server setup and the command builder are shared (`common`).

mod common;
mod local;
mod notice;
mod protected;
mod queue;
mod s3;
