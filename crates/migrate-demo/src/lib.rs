//! The built-in demo old server: a BBB-compatible HTTP server on loopback serving generated recordings and
//! their published files. It is the `demo` command's old server and the fixture factory of the tests.

pub mod catalogue;
pub mod recording;
pub mod server;

pub use catalogue::{CatalogueOptions, generate};
pub use recording::DemoRecording;
pub use server::{DemoServer, Fault, Paging, ServerOptions};
pub mod media;
pub mod pod_db;
pub mod protected;
pub mod published;
pub mod sync;
