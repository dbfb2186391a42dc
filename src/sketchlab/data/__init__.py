"""Drawing data: stroke formats (`strokes`), safe `.npz` files (`npz`), batches (`datasets`), downloads (`sources`);
pictures for the pixel models: rasterized sketches (`raster`), picture folders (`images`), OpenMoji (`openmoji`).

Nothing here knows about models; see docs/conventions.md for the stroke formats and the batch dict.
"""
