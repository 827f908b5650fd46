//! The inventory: every recording of the old server, newest first, numbered, filtered and summarised.
//! Pure: takes recordings, returns selections, summaries and printable forms.

pub mod origin;
pub mod output;
pub mod selection;

pub use origin::{Origin, origin_of};
pub use output::{InventoryRow, Summary};
pub use selection::{Entry, Selection, SelectionError, select};
