"""Tiny models and data for the framework tests and the benchmark (no downloads)."""

from __future__ import annotations

import torch

VOCAB = 16
SEQ = 16


def pattern_batch(n: int, seed: int) -> torch.Tensor:
    """Sequences of a cyclic pattern with random phase: easy to learn, so a bad batch stands out."""
    g = torch.Generator().manual_seed(seed)
    phase = torch.randint(0, VOCAB, (n, 1), generator=g)
    return (phase + torch.arange(SEQ + 1)) % VOCAB


def random_tokens_like(x: torch.Tensor, seed: int = 1234) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, x.shape, generator=g)


class PatternDataset(torch.utils.data.Dataset):
    def __init__(self, n: int = 512, seed: int = 0):
        self.data = pattern_batch(n, seed)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        seq = self.data[i]
        return {"input_ids": seq[:-1], "labels": seq[:-1].clone()}


def tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=SEQ, n_embd=32, n_layer=2, n_head=2,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(config)


def hf_trainer(output_dir, callbacks, *, bad_step=None, bad="random", steps=50, logging_steps=1, **extra):
    """A real transformers.Trainer on a tiny GPT-2 built from a config; at update `bad_step`
    (0-based) the batch's labels are replaced by random tokens (`bad="random"`) or its loss
    becomes NaN (`bad="nan"`)."""
    from transformers import Trainer, TrainingArguments

    class InjectingTrainer(Trainer):
        def compute_loss(self, model, inputs, *args, **kwargs):
            if bad_step is not None and self.state.global_step == bad_step and bad == "random":
                inputs = dict(inputs)
                inputs["labels"] = random_tokens_like(inputs["labels"])
            out = super().compute_loss(model, inputs, *args, **kwargs)
            if bad_step is not None and self.state.global_step >= bad_step and bad == "nan":
                loss = out[0] if isinstance(out, tuple) else out
                loss = loss * float("nan")
                out = (loss, *out[1:]) if isinstance(out, tuple) else loss
            return out

    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=steps,
        per_device_train_batch_size=16,
        learning_rate=3e-3,
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_steps=logging_steps,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
        **extra,
    )
    return InjectingTrainer(model=tiny_gpt2(), args=args, train_dataset=PatternDataset(),
                            callbacks=callbacks)


class CharRNN(torch.nn.Module):
    """The seed question's model: embedding, nn.RNN, linear head."""

    def __init__(self, vocab: int = VOCAB, hidden: int = 32):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, hidden)
        self.rnn = torch.nn.RNN(hidden, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out)


def lightning_module(bad_step=None, bad="random"):
    import lightning.pytorch as pl

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = CharRNN()

        def training_step(self, batch, batch_idx):
            x, y = batch[:, :-1], batch[:, 1:]
            if bad_step is not None and self.global_step == bad_step and bad == "random":
                y = random_tokens_like(y)
            logits = self.net(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
            if bad_step is not None and self.global_step >= bad_step and bad == "nan":
                loss = loss * float("nan")
            self.log("train_loss", loss, on_step=True, prog_bar=False)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch[:, :-1], batch[:, 1:]
            loss = torch.nn.functional.cross_entropy(self.net(x).reshape(-1, VOCAB), y.reshape(-1))
            self.log("val_loss", loss)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

        def train_dataloader(self):
            return torch.utils.data.DataLoader(pattern_batch(50 * 16, 0), batch_size=16)

        def val_dataloader(self):
            return torch.utils.data.DataLoader(pattern_batch(64, 1), batch_size=32)

    return Module()


def lightning_trainer(root, callbacks, steps=50, logger=True, **kw):
    import lightning.pytorch as pl

    return pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        devices=1,
        default_root_dir=str(root),
        logger=pl.loggers.CSVLogger(str(root)) if logger else False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        val_check_interval=25,
        num_sanity_val_steps=0,
        gradient_clip_val=1.0,
        callbacks=callbacks,
        **kw,
    )
