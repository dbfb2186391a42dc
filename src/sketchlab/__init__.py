"""sketchlab: teach machines to draw."""

from sketchlab.allocator import tune_glibc_malloc

# Before torch or any tensor: training's large buffers are then reused instead of faulted in anew at every step.
tune_glibc_malloc()

__version__ = "0.1.0"
__all__ = ["SketchRNN", "SketchRNNConfig", "__version__"]


def __getattr__(name: str):
    # The models (and torch) load on first use, so that `sketchlab --help` does not wait seconds for them.
    if name in ("SketchRNN", "SketchRNNConfig"):
        from sketchlab import models

        return getattr(models, name)
    raise AttributeError(f"module 'sketchlab' has no attribute {name!r}")
