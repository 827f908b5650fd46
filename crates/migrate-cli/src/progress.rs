//! Progress bars on stderr; indicatif hides them by itself when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting recordings fetched from the old server; its length is set once the server says the total.
pub fn listing_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}] {wide_bar} {pos}/{len} recordings")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message("listing recordings");
    bar
}
