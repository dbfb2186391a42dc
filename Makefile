# Two commands do all set-up: `make demo` (train a small Sketch-RNN on real sheep and draw) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED := $(abspath ../shared/data)
export SKETCHLAB_DATA ?= $(if $(wildcard $(SHARED)),$(SHARED),)
# tcmalloc makes CPU training ~1.5x faster when Debian's libtcmalloc-minimal4 is installed; harmless otherwise.
TCMALLOC := $(firstword $(wildcard /usr/lib/*/libtcmalloc_minimal.so.4))
RUN := $(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC)) $(PY) -m sketchlab

DEMO_OUT ?= runs/demo
# About 0.6 s a step on 2 CPU cores: 600 steps take ~6 minutes. `make demo DEMO_STEPS=5000` continues the same run.
DEMO_STEPS ?= 600

.PHONY: demo test venv browser bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: venv
	$(RUN) train --data aaron_sheep --out-dir $(DEMO_OUT) --steps $(DEMO_STEPS) --resume \
		--enc-hidden 128 --dec-hidden 256 --z-size 64 --num-mixture 10 --batch-size 50 --kl-decay-rate 0.997 \
		--eval-every 100 --save-every 100 --image-every 200
	$(RUN) sample --model $(DEMO_OUT)/best --n 25 --temperature 0.3 --seed 1 --out $(DEMO_OUT)/samples.svg
	$(RUN) sample --model $(DEMO_OUT)/best --n 1 --temperature 0.3 --seed 2 --out $(DEMO_OUT)/sheep.gif
	$(RUN) reconstruct --model $(DEMO_OUT)/best --data aaron_sheep --index 0,1,2,3 --out $(DEMO_OUT)/reconstructions.svg
	$(RUN) interpolate --model $(DEMO_OUT)/best --data aaron_sheep --from 0 --to 1 --steps 8 --out $(DEMO_OUT)/interpolation.svg
	$(RUN) sample --model sheep --n 25 --temperature 0.3 --seed 1 --out $(DEMO_OUT)/zoo_sheep.svg
	@echo "samples: $(DEMO_OUT)/samples.svg (the demo run), $(DEMO_OUT)/zoo_sheep.svg (the shipped sheep model)"
	@echo "TensorBoard: $(VENV)/bin/tensorboard --logdir $(DEMO_OUT)/tb   studio: $(RUN) serve --model $(DEMO_OUT)"

# The studio's end-to-end test drives Debian's Chromium (Playwright cannot download browsers here).
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: the browser test will be skipped"

test: venv browser
	$(PY) -m pytest -q

bench: venv
	$(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC)) $(PY) benchmarks/train_throughput.py
	$(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC)) $(PY) benchmarks/sample_throughput.py
	$(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC)) $(PY) benchmarks/train_footprint.py

clean:
	rm -rf $(VENV) runs .pytest_cache
