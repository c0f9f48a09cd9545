//! Writes the HTML report of one curve file (any format the doctor reads):
//! `cargo run -p rnnlab-plot --example report_file -- OUT.html FILE [--vocab V] [--config FILE]`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: report_file OUT.html FILE")?);
    let mut load = doctor::formats::LoadOptions::default();
    let mut extras = plot::ReportExtras::default();
    let mut input = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--vocab" => {
                load.vocab_size = Some(args.next().ok_or("--vocab needs a value")?.parse()?)
            }
            "--config" => {
                extras.config = Some(std::fs::read_to_string(
                    args.next().ok_or("--config needs a file")?,
                )?)
            }
            path => input = Some(PathBuf::from(path)),
        }
    }
    let run = doctor::formats::load(&input.ok_or("no input file")?, &load)?;
    let diagnosis = doctor::diagnose(&run);
    std::fs::write(&out, plot::render_report_html(&run, &diagnosis, &extras))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
