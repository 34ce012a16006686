"""`nrc.data.load` and `nrc.data.provenance` check every argument before reading anything."""

from __future__ import annotations

import pytest

import nrc.data
from nrc.data import files


@pytest.fixture(autouse=True)
def no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad argument must be refused before any dataset file is opened."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file was read before the arguments were checked")

    for reader in ("hdf5", "read_json", "minari_dataset", "parquet", "picture"):
        monkeypatch.setattr(files, reader, refuse)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((None,), {}, "name must be a dataset name, got None"),
        (("",), {}, "name must be a dataset name"),
        ((3,), {}, "name must be a dataset name, got 3"),
        (("../../e",), {}, "neither a known dataset"),
        (("parquet:/x",), {}, "must look like KIND:LOCATION"),
        (("reacher",), {"train_size": 10.5}, "train_size must be a positive integer, got 10.5"),
        (("reacher",), {"train_size": True}, "train_size must be a positive integer, got True"),
        (("reacher",), {"train_size": -3}, "train_size must be a positive integer"),
        (("reacher",), {"test_size": "20"}, "test_size must be a positive integer, got '20'"),
        (("reacher",), {"subset": "last"}, "subset must be 'first' or 'random'"),
        (("reacher",), {"seed": 1.5}, "seed must be a non-negative integer, got 1.5"),
        (("reacher",), {"seed": -1}, "seed must be a non-negative integer"),
        (("reacher",), {"test": "d4rl:/x.h5"}, "test must be a source"),
        (("reacher",), {"image_size": 32}, "image_size/normalization apply to image datasets"),
        (("hopper-height",), {"image_size": 0}, "image_size must be a positive integer, got 0"),
        (("hopper-height",), {"normalization": "cifar"}, "normalization must be 'unit' or"),
        (("hopper",), {"expert_actions": "noisy"}, r"expert_actions must be one of \('determ"),
        (("hopper",), {"expert_actions": ""}, "expert_actions must be one of"),
        (("utkface",), {"expert_actions": "sampled"}, "expert_actions applies to the shipped"),
        (("hopper-height",), {"expert_actions": "deterministic"}, "not 'hopper-height': image"),
        (("mine",), {"expert_actions": "sampled"}, "expert_actions applies to the shipped"),
        (("d4rl:/x.h5",), {"expert_actions": "sampled"}, "expert_actions applies to the shipped"),
    ],
)
@pytest.mark.parametrize("function", ["load", "provenance"])
def test_bad_arguments_are_named_before_any_read(function, args, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        getattr(nrc.data, function)(*args, **kwargs)
