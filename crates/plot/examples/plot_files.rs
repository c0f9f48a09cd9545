//! Renders curve files (any format the doctor reads) with their diagnoses:
//! `cargo run -p rnnlab-plot --example plot_files -- OUT.png|OUT.svg [--log-x] [--log-y] [--smooth W] [--vocab V] FILE...`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: plot_files OUT FILE...")?);
    let mut opts = plot::PlotOptions::default();
    let mut runs = Vec::new();
    let mut load = doctor::formats::LoadOptions::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--log-x" => opts.log_x = true,
            "--log-y" => opts.log_y = true,
            "--vocab" => {
                load.vocab_size = Some(args.next().ok_or("--vocab needs a value")?.parse()?)
            }
            "--smooth" => opts.smooth = args.next().ok_or("--smooth needs a value")?.parse()?,
            path => {
                let run = doctor::formats::load(path.as_ref(), &load)?;
                let diagnosis = doctor::diagnose(&run);
                runs.push((run, diagnosis));
            }
        }
    }
    let started = std::time::Instant::now();
    plot::write_plot(&out, &runs, &opts)?;
    eprintln!(
        "wrote {} in {:.1} ms",
        out.display(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
