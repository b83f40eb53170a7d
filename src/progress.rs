//! Progress bars for long commands (seed, import, bench), drawn only when a
//! person is watching: on a terminal, outside CI. Logs and CI output stay clean.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether a progress bar would be seen: stderr is a terminal and `CI` is unset.
pub fn watching() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// A bar of `len` steps with an indicatif `template`, or a hidden one when
/// nobody is watching (or `wanted` is false).
pub fn bar(len: u64, template: &str, wanted: bool) -> ProgressBar {
    if !wanted || !watching() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
