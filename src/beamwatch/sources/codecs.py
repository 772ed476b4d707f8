"""Wire decoders shared by the sources: JSON, msgpack (numpy-aware), pickle."""

from __future__ import annotations

import pickle
from typing import Any

import msgpack
import msgpack_numpy
import numpy as np
import orjson

from beamwatch.documents import jsonable


class DecodeError(ValueError):
    pass


def _from_numpy(obj: dict) -> Any:
    # msgpack-numpy (bluesky-kafka) encodes arrays as maps with a b"nd" key
    if b"nd" in obj:
        if obj.get(b"kind") == b"O":
            # msgpack_numpy.decode would pickle.loads() an object array: never from the network
            raise DecodeError("msgpack-numpy object arrays (pickled) are refused; send numeric arrays or lists")
        value = msgpack_numpy.decode(obj)
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        return value
    return obj


def decode_msgpack(payload: bytes) -> Any:
    try:
        return msgpack.unpackb(payload, object_hook=_from_numpy, raw=False, strict_map_key=False)
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types
        raise DecodeError(f"invalid msgpack: {exc}") from None


def decode_json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None


def decode_pickle(payload: bytes) -> Any:
    """UNSAFE: unpickling runs arbitrary code. Only behind an explicit flag."""
    try:
        return jsonable(pickle.loads(payload))  # noqa: S301  (plain JSON types, like the other decoders)
    except Exception as exc:
        raise DecodeError(f"invalid pickle: {exc}") from None


DECODERS = {"msgpack": decode_msgpack, "json": decode_json, "pickle": decode_pickle}
