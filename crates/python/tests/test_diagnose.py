"""rnnlab.diagnose: the CLI's answer, from files and from data in memory; errors; pictures."""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

import pytest

import rnnlab
from conftest import CURVES, REPO


def curve_inputs() -> list[tuple[pathlib.Path, list[str]]]:
    """Every curve in ../shared/curves, with the flags its label file gives (vocab, epoch)."""
    if not CURVES.is_dir():
        return []
    out: list[tuple[pathlib.Path, list[str]]] = []
    synthetic = CURVES / "synthetic"
    for p in sorted(synthetic.glob("*.csv")) + sorted(synthetic.glob("*.tfevents")):
        out.append((p, []))
        label = p.with_suffix(".json")
        if label.is_file():
            meta = json.loads(label.read_text())
            flags = []
            if meta.get("vocab"):
                flags += ["--vocab-size", str(meta["vocab"])]
            if meta.get("steps_per_epoch"):
                flags += ["--steps-per-epoch", str(meta["steps_per_epoch"])]
            if flags:
                out.append((p, flags))
    for sub in ("raw", "csv"):
        out += [(p, []) for p in sorted((CURVES / "real" / sub).iterdir())]
    return out


def kwargs_of(flags: list[str]) -> dict:
    kw = {}
    for name, value in zip(flags[::2], flags[1::2]):
        key = name.lstrip("-").replace("-", "_")
        kw[key] = float(value) if key == "steps_per_epoch" else int(value)
    return kw


def run_cli(cli: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), "doctor", *args], capture_output=True, text=True, timeout=300)


def test_curves_are_there_or_the_skip_says_so(curves):
    assert curve_inputs(), f"no curves found under {curves}"


@pytest.mark.parametrize(
    "path,flags",
    curve_inputs() or [pytest.param(None, None, marks=pytest.mark.skip(reason=f"{CURVES} missing"))],
    ids=lambda x: x.name if isinstance(x, pathlib.Path) else (" ".join(x) if x else "defaults"),
)
def test_python_json_is_the_cli_json(cli, path, flags):
    done = run_cli(cli, "--json", *flags, str(path))
    if done.returncode != 0:
        # The CLI refuses it: Python must refuse it with the same message.
        message = done.stderr.strip().removeprefix("error: ")
        with pytest.raises((ValueError, OSError)) as e:
            rnnlab.diagnose(path, **kwargs_of(flags))
        assert str(e.value) == message
        return
    d = rnnlab.diagnose(path, **kwargs_of(flags))
    assert d.to_json() + "\n" == done.stdout  # the CLI prints it and a newline
    assert d.verdict == json.loads(done.stdout)["verdict"]


def test_markdown_and_corpus_match_the_cli(cli, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 200)
    log = tmp_path / "run.csv"
    rows = ["step,loss"] + [f"{i},{2.5 * math.exp(-i / 60) + 1.0:.5f}" for i in range(300)]
    log.write_text("\n".join(rows) + "\n")
    done = run_cli(cli, "--markdown", "--corpus", str(corpus), str(log))
    assert done.returncode == 0, done.stderr
    d = rnnlab.diagnose(log, corpus=corpus)
    assert d.to_markdown() + "\n" == done.stdout
    assert d.references.unigram is not None and d.references.ln_vocab == pytest.approx(math.log(len(set(corpus.read_text()))))
    done = run_cli(cli, "--json", "--vocab-size", "65", "--steps-per-epoch", "100", str(log))
    assert rnnlab.diagnose(log, vocab_size=65, steps_per_epoch=100).to_json() + "\n" == done.stdout


def spike_curve(n: int = 400, at: int = 250) -> tuple[list[int], list[float]]:
    steps = list(range(n))
    loss = [3.0 * math.exp(-i / 80) + 1.2 + 0.02 * math.sin(i * 1.7) for i in steps]
    loss[at] = 6.5
    return steps, loss


def test_in_memory_sources_read_like_the_same_csv(tmp_path):
    steps, loss = spike_curve()
    val = [None] * len(steps)
    for i in range(0, len(steps), 50):
        val[i] = loss[i] + 0.05
    csv = tmp_path / "data.csv"
    csv.write_text(
        "step,loss,val_loss\n"
        + "".join(f"{s},{repr(l)},{'' if v is None else repr(v)}\n" for s, l, v in zip(steps, loss, val))
    )
    from_file = rnnlab.diagnose(csv, vocab_size=65)
    from_dict = rnnlab.diagnose({"step": steps, "loss": loss, "val_loss": val}, vocab_size=65)
    assert json.loads(from_dict.to_json()) == json.loads(from_file.to_json())
    rows = [{"step": s, "loss": l, **({"val_loss": v} if v is not None else {})} for s, l, v in zip(steps, loss, val)]
    assert rnnlab.diagnose(rows, vocab_size=65).to_json() == from_dict.to_json()
    pairs = rnnlab.diagnose(list(zip(steps, loss)), vocab_size=65)
    spikes = [f for f in pairs.findings if f.kind == "spike"]
    assert spikes and spikes[0].step == 250, pairs.findings
    assert pairs.verdict == "unhealthy"
    assert pairs.train_loss()[250] == (250.0, 6.5)


def test_pandas_dataframe_reads_like_its_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    steps, loss = spike_curve()
    df = pd.DataFrame({"step": steps, "loss": loss, "note": ["x"] * len(steps)})
    df.loc[df.index % 50 == 0, "val_loss"] = 2.0
    df.to_csv(tmp_path / "df.csv", index=False)
    assert json.loads(rnnlab.diagnose(df).to_json()) == json.loads(rnnlab.diagnose(tmp_path / "df.csv").to_json())


def test_nan_in_a_dict_is_a_nan_loss():
    steps, loss = spike_curve()
    loss[300] = float("nan")
    d = rnnlab.diagnose({"step": steps, "loss": loss})
    assert any(f.kind == "non_finite" and f.severity == "error" for f in d.findings), d.findings


def test_errors_carry_the_cli_message(cli, tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError) as e:
        rnnlab.diagnose(missing)
    done = run_cli(cli, str(missing))
    assert done.returncode != 0 and str(e.value) == done.stderr.strip().removeprefix("error: ")
    bad = tmp_path / "bad.csv"
    bad.write_text("alpha,beta\nx,y\n")
    done = run_cli(cli, str(bad))
    with pytest.raises(ValueError) as e:
        rnnlab.diagnose(bad)
    assert str(e.value) == done.stderr.strip().removeprefix("error: ")
    with pytest.raises(FileNotFoundError):
        rnnlab.diagnose(bad, corpus=tmp_path / "no-corpus.txt")


def test_bad_input_from_python_is_a_python_error():
    with pytest.raises(ValueError, match="expected a header with a loss column"):
        rnnlab.diagnose({"step": [1, 2, 3], "lr": [0.1, 0.1, 0.1]})
    with pytest.raises(ValueError, match="`loss` has 2 values"):
        rnnlab.diagnose({"step": [1, 2, 3], "loss": [1.0, 2.0]})
    with pytest.raises(ValueError, match="not a number"):
        rnnlab.diagnose({"step": [1, 2], "loss": [1.0, "x"]})
    with pytest.raises(ValueError, match="expected \\(step, loss\\) pairs"):
        rnnlab.diagnose([1, 2, 3])
    with pytest.raises(TypeError):
        rnnlab.diagnose(42)
    with pytest.raises(ValueError):
        rnnlab.diagnose({"step": [0, 1], "loss": [2.0, 1.0]}, steps_per_epoch=-1)
    with pytest.raises(ValueError, match="tokenizer"):
        rnnlab.diagnose({"step": [0, 1], "loss": [2.0, 1.0]}, corpus=__file__, tokenizer="bpe")
    d = rnnlab.diagnose(list(zip(*spike_curve())))
    with pytest.raises(ValueError, match="smooth"):
        d.plot(smooth=1.5)
    with pytest.raises(ValueError, match="svg or .png"):
        d.plot("x.gif")


def test_plot_report_and_notebook_views(tmp_path):
    d = rnnlab.diagnose(list(zip(*spike_curve())), vocab_size=65, name="spiky")
    svg = d.plot()
    assert svg.startswith("<svg") and "</svg>" in svg
    png = d.plot(format="png", width=400, height=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert d.plot(tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert d.plot(tmp_path / "loss.svg").read_text().startswith("<svg")
    page = d.report(tmp_path / "report.html", title="my run").read_text()
    assert page.startswith("<!DOCTYPE html>") and "my run" in page and "spike" in page
    html = d._repr_html_()
    assert "unhealthy" in html and "<svg" in html and "spike" in html
    assert d._repr_svg_().startswith("<svg")
    assert "spike@250" in repr(d) and "UNHEALTHY" in str(d)
    f = d.findings[0]
    assert {"kind", "severity", "start_step", "end_step", "peak_step", "summary", "evidence", "advice"} <= set(vars(f))
    assert d.references.ln_vocab == pytest.approx(math.log(65))
    assert d.series.points == 400 and not d.series.has_val
    assert isinstance(d.reasons, list)


def test_report_of_a_run_folder_shows_its_incidents(tmp_path):
    run = tmp_path / "run"
    with rnnlab.watch(run, vocab_size=65) as w:
        for i, (s, l) in enumerate(zip(*spike_curve())):
            w.log(l, step=s, grad_norm=1.0, lr=1e-3)
    (run / "incidents").mkdir()
    (run / "incidents" / "step-250.json").write_text(json.dumps({"step": 250, "action": "skip", "batch_text": "zzzq"}))
    page = rnnlab.diagnose(run).report_html()
    assert "zzzq" in page and "step 250" in page


def test_import_needs_no_framework():
    code = (
        "import sys, rnnlab; rnnlab.diagnose([(0, 2.0), (1, 1.5), (2, 1.2)]);"
        "bad = [m for m in ('torch', 'transformers', 'lightning', 'pytorch_lightning') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_version_is_the_workspace_version():
    cargo = (REPO / "Cargo.toml").read_text()
    version = cargo.split("[workspace.package]")[1].split('version = "')[1].split('"')[0]
    assert rnnlab.__version__ == version
