"""Train / validation / test sets from what the user gives: one labelled source split by
fractions, or separate sources with the missing ones carved from the training set."""

from __future__ import annotations

import os
from collections.abc import Sequence

from vjepa2.data.manifest import LabelledSet, read_labelled, split_examples
from vjepa2.errors import UsageError

Source = str | os.PathLike


def check_fractions(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Train/val/test fractions: three non-negative numbers summing to 1, training non-zero."""
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or any(r < 0 for r in ratios):
        raise UsageError(f"--split {ratios}: three non-negative fractions (train, val, test)")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise UsageError(f"--split {' '.join(f'{r:g}' for r in ratios)}: the fractions sum to "
                         f"{sum(ratios):g}, not 1")  # fmt: skip
    if ratios[0] == 0:
        raise UsageError("--split: the training fraction is 0")
    return ratios  # type: ignore[return-value]


def labelled_splits(
    data: Source | None = None,
    train: Source | None = None,
    val: Source | None = None,
    test: Source | None = None,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[LabelledSet, LabelledSet, LabelledSet]:
    """``data`` split by ``split``, or ``train`` with ``val`` / ``test`` (each carved from
    ``train`` by ``split`` when not given). Refuses (:class:`UsageError`) a missing or doubled
    source, bad fractions and an empty set."""
    if data is None and train is None:
        raise UsageError("give --data (split automatically) or --train [--val --test]")
    if data is not None and (train or val or test):
        raise UsageError("give either --data (split by --split) or --train/--val/--test")
    split = check_fractions(split)
    try:
        if data is not None:
            sets = split_examples(read_labelled(data), split, seed)
        else:
            sets = _given_sets(train, val, test, split, seed)
    except ValueError as err:
        raise UsageError(str(err)) from err
    for name, subset in zip(("train", "val", "test"), sets, strict=True):
        if not len(subset):
            raise UsageError(f"the {name} set is empty (--split {' '.join(map(str, split))})")
    return sets


def _given_sets(train, val, test, split, seed) -> tuple[LabelledSet, LabelledSet, LabelledSet]:
    train_set = read_labelled(train)
    val_set = read_labelled(val, train_set.id2label) if val else None
    test_set = read_labelled(test, train_set.id2label) if test else None
    if val_set is None or test_set is None:
        ratios = (split[0], 0.0 if val_set else split[1], 0.0 if test_set else split[2])
        train_set, carved_val, carved_test = split_examples(train_set, ratios, seed)
        val_set, test_set = val_set or carved_val, test_set or carved_test
    return train_set, val_set, test_set
