# Two commands do all set-up: `make demo` (train a small Sketch-RNN on real sheep and draw) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED := $(abspath ../shared/data)
export SKETCHLAB_DATA ?= $(if $(wildcard $(SHARED)),$(SHARED),)
# No LD_PRELOAD of tcmalloc any more: `import sketchlab` sets glibc's malloc to keep training's buffers (allocator.py).
RUN := $(PY) -m sketchlab

DEMO_OUT ?= runs/demo
# About 0.12 s a step on 2 CPU cores: 3,000 steps take ~6 minutes. `make demo DEMO_STEPS=6000` continues the same run.
DEMO_STEPS ?= 3000
JUDGED = $(DEMO_OUT)/judged

.PHONY: demo test venv browser bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The demo trains in float32 (--amp none) on every machine: the README's figures for it were measured so, and a
# resumed demo must not switch precision on a CPU with native bf16.
demo: venv
	$(RUN) train --data aaron_sheep --out-dir $(DEMO_OUT) --steps $(DEMO_STEPS) --resume --seed 0 --amp none \
		--no-conditional --dec-hidden 256 --num-mixture 10 --batch-size 50 --max-seq-len 100 --checkpoint-steps 0 \
		--eval-every 250 --save-every 250 --image-every 500
	$(RUN) sample --model $(DEMO_OUT) --n 25 --temperature 0.5 --seed 1 --out $(DEMO_OUT)/samples.svg
	$(RUN) sample --model $(DEMO_OUT) --n 1 --temperature 0.5 --seed 2 --out $(DEMO_OUT)/sheep.gif
	$(RUN) evaluate --model $(DEMO_OUT) --classifier doodle-judge --data aaron_sheep --class sheep \
		--sample-temperatures 0.3,0.5,0.8 --n-samples 200 --seed 0 --out $(JUDGED)
	$(RUN) sample --model sheep --n 25 --temperature 0.3 --seed 1 --out $(DEMO_OUT)/zoo_sheep.svg
	$(RUN) reconstruct --model sheep --data aaron_sheep --index 0,1,2,3 --out $(DEMO_OUT)/zoo_reconstructions.svg
	$(RUN) interpolate --model sheep --data aaron_sheep --from 0 --to 1 --steps 8 --out $(DEMO_OUT)/zoo_interpolation.svg
	@echo "samples: $(DEMO_OUT)/samples.svg (the demo run; judged in $(JUDGED)/report.md), $(DEMO_OUT)/zoo_sheep.svg (the shipped sheep model)"
	@echo "TensorBoard: $(VENV)/bin/tensorboard --logdir $(DEMO_OUT)/tb   studio: $(RUN) serve --model $(DEMO_OUT) --model sheep"

# The studio's end-to-end test drives Debian's Chromium (Playwright cannot download browsers here).
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: the browser test will be skipped"

test: venv browser
	$(PY) -m pytest -q

bench: venv
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/sample_throughput.py
	$(PY) benchmarks/train_footprint.py

clean:
	rm -rf $(VENV) runs .pytest_cache
