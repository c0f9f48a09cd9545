//! The `rnnlab` command line: wires the library's stages together, nothing more.

mod cli;

fn main() {
    if let Err(err) = cli::run() {
        eprintln!("error: {}", one_line(&err));
        std::process::exit(2);
    }
}

/// The error and its causes on one line, skipping a cause whose text the message before it
/// already quotes (library errors often say "path: cause" and also expose the cause).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
