"""One-command recipe for a 128 px ``cnn_reconstruct`` model on the mixed phantom library.

Makes ``--n-train`` mixed phantoms (catalyst-like and random shapes, alternating) at
128 x 128 with 128 angles and photon noise I0 = 1e4, trains the report's architecture
(4 strided convs of 64, 4 x Dense(1000) + dropout, Dense(128^2), image convs) with RMSE
and Adam, checkpointing every epoch beside the output (a killed run resumes), and saves
the model with its OOD bank. The image convs use ``--refine-filters`` 32 instead of the
report's 128 (16x fewer operations at 128 px), which is what fits 2 CPU cores in an hour.

    python benchmarks/cnn_train_model.py -o cnn_reconstruct_128.keras
    python benchmarks/cnn_train_model.py --measure      # seconds per epoch, then stop

``--measure`` trains 2 epochs on ``--measure-rows`` phantoms and extrapolates the full
recipe's wall time from the second epoch (the first includes graph tracing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")


def recipe(args: argparse.Namespace) -> dict[str, Any]:
    return dict(epochs=args.epochs, batch_size=32, learning_rate=args.lr, loss_kind="rmse",
                conv_filters=64, dense_units=1000, dense_layers=4, dropout=args.dropout,
                refine_filters=args.refine_filters, device=args.device,
                early_stopping=5, validation_fraction=0.05, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default="cnn_reconstruct_128.keras")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--n-train", type=int, default=2500)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=2.5e-4, help="Adam (the report: 2.5e-4)")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--refine-filters", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--measure", action="store_true", help="time 2 epochs on a few rows")
    ap.add_argument("--measure-rows", type=int, default=192)
    args = ap.parse_args(argv)

    from tomokit.learn import TrainCallback
    from tomokit_recon.cnn import CNNReconstruct, make_reconstruction_data

    t0 = time.perf_counter()
    rows = args.measure_rows if args.measure else args.n_train
    data = make_reconstruction_data("mixed", rows, args.size, seed=args.seed)
    t_data = time.perf_counter() - t0
    print(f"data: {rows} mixed phantoms at {args.size} px in {t_data:.0f} s "
          f"({t_data / rows * 1000:.0f} ms each)", flush=True)

    class Times(TrainCallback):
        def __init__(self) -> None:
            self.starts: list[float] = []
            self.seconds: list[float] = []

        def on_epoch_begin(self, state: Any) -> None:
            self.starts.append(time.perf_counter())

        def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
            self.seconds.append(time.perf_counter() - self.starts[-1])
            print(f"epoch {state.epoch + 1}: {self.seconds[-1]:.1f} s, "
                  + ", ".join(f"{k} {v:.4g}" for k, v in logs.items()), flush=True)

    times = Times()
    model = CNNReconstruct(device=args.device)
    train = recipe(args)
    if args.measure:
        train.update(epochs=2, early_stopping=None)
        model.fit(data, train=train, callbacks=[times])
        per_row = times.seconds[-1] / rows
        full = per_row * args.n_train * args.epochs + t_data / rows * args.n_train
        print(f"{per_row * 1000:.1f} ms per phantom and epoch -> {args.n_train} phantoms x "
              f"{args.epochs} epochs: about {full / 60:.0f} min (data included)")
        return 0
    out = Path(args.output)
    ckpt = out.with_name(f".{out.name}.partial.d")
    report = model.fit(data, train=train, callbacks=[times], checkpoint_dir=ckpt,
                       progress=True)
    model.save(out)
    shutil.rmtree(ckpt, ignore_errors=True)
    print(f"saved {out}: {report.epochs_run} epochs, {report.seconds:.0f} s, validation "
          + ", ".join(f"{k} {v:.4g}" for k, v in report.validation.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
