#!/usr/bin/env python3
"""Regenerates the built-in calibration set (this folder's .jpg files).

Every image is a square region of a photo that a package ships inside its own
archive, so the set installs offline. Regions of one photo never overlap.

Sources (pinned; other versions may ship other bytes):
  pip:    scikit-image==0.26.0 scikit-learn==1.9.1 matplotlib==3.11.2 pillow==13.0.0
  Debian: lomiri-wallpapers-16.04 20.04.0-2 (bookworm), fetched with `apt-get download`

Usage (Python 3.11, from any folder):
  python3 -m venv /tmp/venv-calib
  /tmp/venv-calib/bin/pip install scikit-image==0.26.0 scikit-learn==1.9.1 \\
      matplotlib==3.11.2 pillow==13.0.0
  /tmp/venv-calib/bin/python codegen/data/calib/make.py [--lomiri-deb FILE.deb]

It prints the file names for `BUILTIN_CALIBRATION` in codegen/src/images.rs.
With the pinned versions the output is byte for byte the committed files.
"""

import argparse
import glob
import importlib.util
import os
import subprocess
import sys
import tempfile

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
# Side of the stored squares (the model resizes them to its resolution).
SIDE = int(os.environ.get("CALIB_SIDE", "160"))
QUALITY = 85


def pkg_dir(name):
    spec = importlib.util.find_spec(name)
    if spec is None:
        sys.exit(f"make.py: Python package `{name}` is not installed (see the usage above)")
    return os.path.dirname(spec.origin)


# (short name, package, path inside the package or the .deb, rows, cols, held out)
# The grid is rows x cols squares of side min(W/cols, H/rows), centred.
PHOTOS = [
    ("astronaut", "skimage", "data/astronaut.png", 2, 2, False),
    ("coffee", "skimage", "data/coffee.png", 2, 3, False),
    ("rocket", "skimage", "data/rocket.jpg", 2, 3, False),
    ("flower", "sklearn", "datasets/images/flower.jpg", 2, 3, False),
    ("aitzgorri", "lomiri", "aitzgorri_by_Aitzol_Berasategi.jpg", 2, 3, False),
    ("friends", "lomiri", "friends_by_Aitzol_Berasategi.jpg", 3, 2, False),
    ("life", "lomiri", "life_by_Aitzol_Berasategi.jpg", 2, 3, False),
    ("picosdeeuropa", "lomiri", "picosdeeuropa_by_Aitzol_Berasategi.jpg", 2, 3, False),
    ("fig", "lomiri", "Picture_0B_by_freespace.jpg", 2, 3, False),
    ("brushes", "lomiri", "Picture_1A_by_freespace.jpg", 2, 2, False),
    ("seeding", "lomiri", "seeding_by_Clements_Engelhardt.jpg", 2, 3, False),
    ("wine", "lomiri", "Wine_by_Jakkub_Mede.jpg", 3, 2, False),
    # Held out: the smoke check's images, from photos calibration never sees.
    ("china", "sklearn", "datasets/images/china.jpg", 1, 1, True),
    ("hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", 1, 1, True),
    ("sunset", "lomiri", "sunset_by_Aitzol_Berasategi.jpg", 2, 3, True),
]


def lomiri_dir(deb, tmp):
    if deb is None:
        subprocess.run(["apt-get", "download", "lomiri-wallpapers-16.04"], cwd=tmp, check=True)
        deb = glob.glob(os.path.join(tmp, "lomiri-wallpapers-16.04_*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")], check=True)
    return os.path.join(tmp, "x", "usr", "share", "backgrounds")


def regions(img, rows, cols):
    w, h = img.size
    s = min(w // cols, h // rows)
    x0, y0 = (w - cols * s) // 2, (h - rows * s) // 2
    for r in range(rows):
        for c in range(cols):
            x, y = x0 + c * s, y0 + r * s
            yield img.crop((x, y, x + s, y + s))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lomiri-deb", help="lomiri-wallpapers-16.04 .deb (default: apt-get download it)")
    a = ap.parse_args()
    roots = {p: pkg_dir(p) for p in ("skimage", "sklearn", "matplotlib")}
    held = os.path.join(HERE, "heldout")
    os.makedirs(held, exist_ok=True)
    for old in glob.glob(os.path.join(HERE, "*.jpg")) + glob.glob(os.path.join(held, "*.jpg")):
        os.remove(old)
    names = []
    with tempfile.TemporaryDirectory() as tmp:
        roots["lomiri"] = lomiri_dir(a.lomiri_deb, tmp)
        total = 0
        for short, pkg, path, rows, cols, heldout in PHOTOS:
            img = Image.open(os.path.join(roots[pkg], path)).convert("RGB")
            for k, reg in enumerate(regions(img, rows, cols)):
                small = reg.resize((SIDE, SIDE), Image.LANCZOS)
                name = f"{short}-{k}.jpg"
                out = os.path.join(held if heldout else HERE, name)
                small.save(out, quality=QUALITY, optimize=True)
                total += os.path.getsize(out)
                names.append(("heldout/" if heldout else "") + name)
    for n in names:
        print(n)
    cal = sum(not n.startswith("heldout/") for n in names)
    print(f"{cal} calibration + {len(names) - cal} held-out images, {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
