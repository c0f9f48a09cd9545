//! The `rnnlab` command line: wires the library's stages together, nothing more.

mod cli;

fn main() {
    if let Err(err) = cli::run() {
        eprintln!("error: {err:#}");
        std::process::exit(2);
    }
}
