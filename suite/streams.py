"""Random streams: every draw of a run derives from its seed by ``fold_in``.

Landscape instance j of a setting is drawn from (seed, stream 0, setting, j);
the start of restart i from (seed, stream 1, setting, j, i); its noise at step t
from (seed, stream 2, setting, j, i, t), split into the mini-batch key and the
optimizer's key (gradient-noise wrappers) by a last ``fold_in`` (see
:mod:`suite.program`). So restart i starts from the same point for every
optimizer and setting (common random numbers), and no draw depends on batch,
chunk or device counts, nor on a landscape parameter declared ``keyed=False``
(a mini-batch size: every batch size sees the same data and starts).
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

import jax

from suite.plan import LandscapeSetting
from suite.specs import Landscape

STREAM_INSTANCE, STREAM_INIT, STREAM_NOISE = 0, 1, 2


class Draw(NamedTuple):
    """One landscape instance and the key streams of its restarts, from one seed.

    Made only by :func:`draw`, so the instance and the streams cannot come
    from different settings or seeds.
    """

    setting: LandscapeSetting
    seed: int
    instance: Landscape
    init: jax.Array  # restart i starts at instance.init(fold_in(init, i))
    noise: jax.Array  # restart i's noise stream is fold_in(noise, i)


def landscape_id(setting: LandscapeSetting) -> int:
    """A stable 31-bit id of a landscape setting (not its instance), for ``fold_in``.

    Parameters declared ``keyed=False`` (a mini-batch size) are left out: settings
    that differ only in them draw the same data and the same starts.
    """
    return zlib.crc32(setting.draw_label.encode()) & 0x7FFFFFFF


def keys(seed: int, setting: LandscapeSetting) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Keys of the instance, the starts and the noise of one landscape instance."""
    root = jax.random.key(seed)
    lid = landscape_id(setting)
    return tuple(jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(root, s), lid), setting.instance)
                 for s in (STREAM_INSTANCE, STREAM_INIT, STREAM_NOISE))


def draw(setting: LandscapeSetting, seed: int) -> Draw:
    """The instance of ``setting`` under ``seed`` (the same for every optimizer) and its restart streams."""
    instance_key, init, noise = keys(seed, setting)
    instance = setting.spec.build(dict(setting.values), key=instance_key)
    if not isinstance(instance, Landscape):
        raise TypeError(f"build() of landscape {setting.spec.name!r} returned "
                        f"{type(instance).__name__}, not suite.Landscape")
    return Draw(setting, seed, instance, init, noise)


def start(draw_: Draw, restart: int):
    """The starting point of restart ``restart``: what every optimizer starts from."""
    return draw_.instance.init(jax.random.fold_in(draw_.init, restart))
