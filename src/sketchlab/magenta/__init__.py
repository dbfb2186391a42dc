"""Google Magenta's published Sketch-RNN models (the sketch-rnn-js / magenta.js JSON format): read them into
sketchlab models, download the published catalog into the cache, and write sketchlab models back out.

The models know nothing about files: `format` maps the JSON files onto `SketchRNN`, `catalog` finds, downloads and
converts the published ones (`magenta:NAME[.gen|.vae]` wherever a model is taken).
"""
