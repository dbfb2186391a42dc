"""Drawing data: stroke formats (`strokes`), safe `.npz` files (`npz`), batches (`datasets`), downloads (`sources`).

Nothing here knows about models; see docs/conventions.md for the stroke formats and the batch dict.
"""
