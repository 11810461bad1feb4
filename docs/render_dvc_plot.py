"""Render one `dvc plots show` chart to PNG, offline, for a page like the README.

    pip install vl-convert-python             # a renderer for Vega-Lite; not a reslab dependency
    dvc plots show --json train_cnn_val_acc > plot.json
    python docs/render_dvc_plot.py plot.json train_cnn_val_acc out.png
"""

import json
import sys

import vl_convert


def main(plot_json: str, plot_id: str, out: str) -> None:
    with open(plot_json) as f:
        spec = json.load(f)["data"][plot_id][0]["content"]
    with open(out, "wb") as f:
        f.write(vl_convert.vegalite_to_png(json.dumps(spec), scale=1.5))


if __name__ == "__main__":
    main(*sys.argv[1:4])
