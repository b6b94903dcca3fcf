"""Rebuild the small files in data/ from sources that installed packages ship.

    .venv/bin/python tools/make_data.py
"""
from pathlib import Path

import matplotlib
from PIL import Image

DATA = Path(__file__).resolve().parent.parent / "data"


def grace_hopper():
    source = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = Image.open(source).convert("L").resize((128, 160))
    image.save(DATA / "grace_hopper_gray.png", optimize=True)


if __name__ == "__main__":
    grace_hopper()
