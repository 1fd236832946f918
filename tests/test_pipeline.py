"""The batch runner: batches read, mapped and written in order, with progress, failures and the final error."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.errors import BadInputError
from latentatlas.pipeline.runner import Batch, run_batches
from latentatlas.sources import Failure, Record


def _record(i: int) -> Record:
    def load() -> np.ndarray:
        if i % 4 == 3:
            raise BadInputError(f"item{i}: cannot read (broken)")
        return np.full((2, 2), i, np.uint8)

    return Record(uri=f"item{i}", loader=load, hasher=lambda: str(i))


def _mapper(loaded, failures) -> Batch:
    kept = [(r, im) for r, im in zip(loaded.records, loaded.images) if int(im[0, 0]) != 5 or failures.append(
        Failure(r.uri, "refused by the mapper"))]
    return Batch([r for r, _ in kept], [im for _, im in kept], [int(im[0, 0]) * 10 for _, im in kept])


def test_batches_are_mapped_written_and_reported():
    written, events = [], []
    report = run_batches([_record(i) for i in range(10)], _mapper, lambda b: written.extend(b.outputs) or len(b.outputs),
                         stage="embed", batch_size=4, progress=lambda *a, **k: events.append((a, k)),
                         failures=[Failure("listing", "not a source")])
    assert written == [0, 10, 20, 40, 60, 80, 90] and report.written == 7
    assert [str(f) for f in report.failures] == ["listing: not a source", "item3: cannot read (broken)",
                                                 "item7: cannot read (broken)", "item5: refused by the mapper"]
    assert [a for a, _ in events] == [("embed", 0, 10), ("embed", 4, 10), ("embed", 8, 10), ("embed", 10, 10)]
    assert events[-1][1] == {"written": 7, "failed": 4}


def test_nothing_done_is_one_error_with_the_first_failure():
    with pytest.raises(BadInputError, match="no image could be compressed: item3: cannot read"):
        run_batches([_record(3)], _mapper, lambda b: 0, stage="compress", batch_size=2, nothing_done="compressed")
    assert run_batches([], _mapper, lambda b: 0, stage="embed", batch_size=2).written == 0
