"""The pipelines: the verbs a user runs, as Python functions, one module per family of models. The CLI and the web
studio are thin doors onto these.

A pipeline here is the glue from a `--data` spec or a model folder to a result: it reads and prepares the data for
its family's models, trains them on the one engine (`training.Trainer`), loads trained models, and turns a model's
output into drawings or pictures (stroke-3 arrays, image grids). It parses no options and prints nothing (the CLI
does), and the model maths stays in `models/`.

- `strokes`      Sketch-RNN: stroke data, train, load, pick drawings and their first strokes
- `images`       pixel models (DCGAN, WAE, BEGAN): image data, train, generate, interpolate, analogies, anomalies
- `translation`  CycleGAN: the two domains, train, load, translate images
- `text`         StackGAN: train a stage on pictures with texts, draw pictures for prompts

`sketchlab.evaluation` stays beside this package, not in it: it judges every family's models with the sketch
classifier (losses, recognizability, Fréchet distance, precision/recall) and writes reports; it reads data through
these pipelines and is read by none of them, so keeping it apart keeps pipelines free of the judge and its metrics.

Each name has one home: import it from its module (`from sketchlab.pipelines.strokes import load_model`).
"""
