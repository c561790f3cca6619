"""Datasets: the synthesizer, the amrkit HDF5 format and readers for external files."""

from amrkit.data.frames import FrameSet, array_frameset
from amrkit.data.open import open_frames

__all__ = ["FrameSet", "array_frameset", "open_frames"]
