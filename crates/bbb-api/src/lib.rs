//! Client for the old server's API (BigBlueButton 2.0–3.0 and Scalelite) and the recording model it returns.
//!
//! The pure parts ([`checksum`], [`model`], [`response`]) do no I/O and are usable by the demo server and tests;
//! [`client`] does the HTTP.

pub mod checksum;
pub mod client;
pub mod model;
pub mod response;
pub mod server_url;

pub use checksum::ChecksumAlgorithm;
pub use client::{BbbClient, ClientError, ClientOptions, RecordingsQuery};
pub use model::{
    Breakout, FormatKind, PlaybackFormat, PreviewImage, Recording, RecordingState, StateFilter, presentation_url_v23,
};
pub use response::{ApiFailure, ParseError, RecordingsPage};
pub use server_url::{ServerUrlError, api_base_url, web_root};
