use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct RunsArgs {
    /// The folder of runs (default `runs`).
    #[arg(default_value = "runs")]
    dir: PathBuf,
    /// One JSON object per run instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: RunsArgs) -> anyhow::Result<()> {
    let rows = rnnlab::runs::collect(&a.dir)
        .with_context(|| format!("{}: cannot list runs", a.dir.display()))?;
    if a.json {
        let differ = rnnlab::runs::differing_keys(&rows);
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).expect("row serializes");
                let settings: serde_json::Map<String, serde_json::Value> = differ
                    .iter()
                    .filter_map(|k| Some((k.clone(), r.config.get(k)?.clone().into())))
                    .collect();
                v["differing_settings"] = settings.into();
                v
            })
            .collect();
        return crate::cli::print_stdout(&serde_json::to_string_pretty(&list)?);
    }
    if rows.is_empty() {
        return crate::cli::print_stdout(&format!("no runs under {}", a.dir.display()));
    }
    crate::cli::print_stdout(rnnlab::runs::table(&rows).trim_end())
}
