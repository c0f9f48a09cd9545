//! Jupyter notebooks (`.ipynb`): where many runs are trained and only ever looked at. The
//! outputs of every code cell, in order, become one text log for the text reader: printed
//! streams as they are, and HTML tables (the Trainer's live table, a pandas frame) as rows of
//! tab-separated cells, which the text reader's table rule reads by their header.

use crate::error::{DoctorError, Location};
use crate::Run;
use serde_json::Value;
use std::path::Path;

use super::LoadOptions;

pub(crate) fn parse(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Result<Run, DoctorError> {
    let text = String::from_utf8_lossy(bytes);
    let notebook: Value = serde_json::from_str(&text).map_err(|e| {
        DoctorError::parse(
            path,
            Location::Line(e.line()),
            format!("expected a Jupyter notebook (JSON): {e}"),
        )
    })?;
    let cells = notebook
        .get("cells")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            DoctorError::parse(
                path,
                Location::Whole,
                "expected a Jupyter notebook with `cells`",
            )
        })?;
    let mut log = String::new();
    for output in cells
        .iter()
        .filter_map(|c| c.get("outputs").and_then(Value::as_array))
        .flatten()
    {
        if let Some(stream) = output.get("text") {
            log.push_str(&joined(stream));
            log.push('\n');
        }
        let Some(data) = output.get("data") else {
            continue;
        };
        if let Some(html) = data.get("text/html") {
            log.push_str(&html_as_text(&joined(html)));
            log.push('\n');
        } else if let Some(plain) = data.get("text/plain") {
            log.push_str(&joined(plain));
            log.push('\n');
        }
    }
    if log.trim().is_empty() {
        return Err(DoctorError::parse(
            path,
            Location::Whole,
            "the notebook has no cell outputs: run the training cell (and save) first, or \
             point at the log it writes",
        ));
    }
    super::text::parse(log.as_bytes(), path, opts)
}

/// A notebook string: one string, or a list of lines.
fn joined(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// HTML reduced to its text: a table's cells end in tabs and its rows in newlines; every other
/// tag goes (the `<progress>` bar's own text, `[544/544 19:38, Epoch 2/2]`, stays).
fn html_as_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open].replace('\n', " "));
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = rest[open + 1..open + close].trim().to_ascii_lowercase();
        if tag.starts_with("/td") || tag.starts_with("/th") {
            out.push('\t');
        } else if tag.starts_with("/tr") || tag.starts_with("br") || tag.starts_with("/div") {
            out.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    // Cells are separated by their closing tags alone: the spaces between them go.
    out.lines()
        .map(|l| {
            l.split('\t')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\t")
                .trim_end_matches('\t')
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trainer_table_and_printed_logs_in_a_notebook_are_read() {
        let nb = r#"{"cells": [
          {"cell_type": "code", "outputs": [
            {"output_type": "display_data", "data": {"text/html": [
              "<div><progress value='544' max='544'></progress>\n [544/544 19:38, Epoch 2/2]\n</div>\n",
              "<table border=\"1\" class=\"dataframe\">\n <thead>\n <tr style=\"text-align: left;\">\n",
              "  <th>Step</th>\n  <th>Training Loss</th>\n  <th>Validation Loss</th>\n  <th>Entropy</th>\n </tr>\n </thead>\n",
              " <tbody>\n <tr>\n  <td>50</td>\n  <td>0.034100</td>\n  <td>0.020567</td>\n  <td>0.534150</td>\n </tr>\n",
              " <tr>\n  <td>100</td>\n  <td>0.016000</td>\n  <td>0.017114</td>\n  <td>0.548209</td>\n </tr>\n",
              " <tr>\n  <td>150</td>\n  <td>0.012000</td>\n  <td>0.016000</td>\n  <td>0.550000</td>\n </tr>\n </tbody>\n</table>"],
              "text/plain": ["<IPython.core.display.HTML object>"]}}]},
          {"cell_type": "markdown", "source": ["notes"]}]}"#;
        let run = parse(
            nb.as_bytes(),
            Path::new("train.ipynb"),
            &LoadOptions::default(),
        )
        .unwrap();
        let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![50.0, 100.0, 150.0]);
        assert_eq!(run.val_loss[1].value, 0.017114);
        let printed = r#"{"cells": [{"cell_type": "code", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["step 10 loss 2.5\n", "step 20 loss 2.1\n", "step 30 loss 1.9\n"]}]}]}"#;
        let run = parse(
            printed.as_bytes(),
            Path::new("train.ipynb"),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(run.train_loss.len(), 3);
        let empty = r#"{"cells": [{"cell_type": "code", "outputs": []}]}"#;
        let err = parse(
            empty.as_bytes(),
            Path::new("train.ipynb"),
            &LoadOptions::default(),
        );
        assert!(err.unwrap_err().to_string().contains("no cell outputs"));
    }
}
