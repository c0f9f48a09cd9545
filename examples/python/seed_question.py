"""The seed question, in PyTorch: "is this loss normal?"

A character-level language model (``nn.Embedding`` → ``nn.RNN`` → ``nn.Linear``, Adam), trained
on this repository's own text for 400 steps, with one bad batch (random targets) at step 250 —
the run that made someone ask. rnnlab records the loop, says what happened and where, and draws
it; then the same run is repeated under ``rnnlab.Guard``, which keeps the bad batch out of the
weights. Notebook-style: run it as a script or paste the cells into Jupyter (a ``Diagnosis``
displays itself there).

    pip install torch <the rnnlab wheel>         # see the README, "From PyTorch"
    python examples/python/seed_question.py      # ~15 s on a 2-core CPU; writes out/seed-question/
"""

# %% The data: characters of the repository's Markdown files.
import pathlib

import torch

import rnnlab

torch.manual_seed(0)
root = pathlib.Path(__file__).resolve().parents[2]
text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.glob("**/*.md")) if "target" not in p.parts)
chars = sorted(set(text))
V = len(chars)
data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
out = pathlib.Path("out/seed-question")
print(f"{len(text)} characters, vocabulary {V}")

BATCH, SEQ, STEPS, BAD_STEP = 16, 32, 400, 250


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    starts = torch.randint(0, len(data) - SEQ - 1, (BATCH,), generator=g)
    x = torch.stack([data[s : s + SEQ] for s in starts])
    y = torch.stack([data[s + 1 : s + SEQ + 1] for s in starts])
    if step == BAD_STEP:  # the bad batch: targets are random characters
        y = torch.randint(0, V, y.shape, generator=g)
    return x, y


# %% The model from the question.
class CharRNN(torch.nn.Module):
    def __init__(self, vocab: int, hidden: int = 64):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, hidden)
        self.rnn = torch.nn.RNN(hidden, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.embed(x))
        return self.head(h)


def loss_of(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))


# %% 1. A plain loop, recorded by rnnlab.watch (an rnnlab run folder: metrics.jsonl, meta.json).
torch.manual_seed(0)
model = CharRNN(V)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
with rnnlab.watch(out / "plain", optimizer=opt, vocab_size=V, tokens_per_step=BATCH * SEQ) as w:
    for step in range(STEPS):
        x, y = batch(step)
        loss = loss_of(model, x, y)
        opt.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # the pre-clip norm
        opt.step()
        w.log(loss, grad_norm=grad_norm)

# %% Is this loss normal?
d = w.diagnose()
print(d)  # the verdict, each finding with its evidence and the fix
spike = next(f for f in d.findings if f.kind == "spike")
print(f"-> {spike.kind} at step {spike.step:.0f} (the bad batch was step {BAD_STEP})")
d.plot(out / "plain.png")
d.report(out / "plain.html")
d  # in Jupyter: the verdict, the findings and the plot

# %% 2. The same run under the guard: the bad batch is skipped, the weights never see it.
torch.manual_seed(0)
model = CharRNN(V)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
guard = rnnlab.Guard()
with rnnlab.watch(out / "guarded", vocab_size=V, tokens_per_step=BATCH * SEQ) as w:
    for step in range(STEPS):
        x, y = batch(step)
        action = rnnlab.torch.guarded_step(model, opt, loss_of(model, x, y), guard, clip=1.0,
                                           step=step, batch=(x, y), watch=w)
        if action.stop:
            break
for incident in rnnlab.torch.incidents(guard):
    print(f"guard: {incident.action} at step {incident.step} ({incident.reason}, loss {incident.loss:.2f})")
g = w.diagnose()
print(f"guarded run: {g.verdict}; {len(rnnlab.torch.incidents(guard))} step(s) kept out")
g.plot(out / "guarded.png")
print(f"wrote {out}/plain.png, plain.html, guarded.png")
