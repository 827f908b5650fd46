//! Progress bars on stderr; indicatif hides them by itself when stderr is not a terminal.

use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Every bar of a run drawn together: the run's bar on top, one bar per recording being rendered under it.
pub fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// A bar for one recording being rendered: seconds of recording done out of its length. Finish it with
/// `finish_and_clear` so that it leaves the stack.
pub fn render_bar(name: &str, total_secs: u64) -> ProgressBar {
    let bar = bars().add(ProgressBar::new(total_secs.max(1)));
    bar.set_style(
        ProgressStyle::with_template("  {msg:32!} {bar:30} {pos}/{len} s of recording, eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(name.to_owned());
    bar
}

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
