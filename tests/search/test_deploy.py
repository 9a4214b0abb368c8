"""A shipped model folder a service can use on its own: raw images in, the card's test accuracy out.

The study is a real (tiny) search and finalize on the MNIST images of ../shared/data; the loader is
given the test split as PNG files, as a service would receive them, with no preprocessing by the caller.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hwprofiles.timing import use_timing_backend
from search.cli.main import main
from search.deploy import DeployError, load_model
from search.finalize.pipeline import finalize_study
from search.finalize.settings import FinalizeSettings
from search.loop.driver import run_search
from search.study.settings import RunSettings
from search.training.datasets import load_dataset

from ..fake_timing import FakeTiming
from ..tiny import TINY

PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class Shipped:
    folder: Path
    card: dict
    images: list[Path]  # the test split as PNG files
    labels: np.ndarray


@pytest.fixture(scope="module")
def shipped(shared_data, _tiny_local_profile, tmp_path_factory) -> Shipped:
    """A one-trial MNIST study finalized with int8 (a ``quantize`` pass), and its test split as PNGs."""
    root, cache = _tiny_local_profile
    tmp = tmp_path_factory.mktemp("deploy")
    shutil.copytree(root / "local", tmp / "profiles" / "local")
    runs, mnist = tmp / "runs", shared_data / "mnist"
    with pytest.MonkeyPatch.context() as mp, use_timing_backend(FakeTiming()):
        mp.setenv("SEARCH_PROFILES_DIR", str(tmp / "profiles"))
        mp.setenv("SEARCH_CACHE_DIR", str(cache))
        run_search(RunSettings(space_options=TINY, dataset="mnist", data_dir=str(mnist), trials=1, epochs=1,
                               halving_rate=None, generation=1, population=1, workers=1, batch_size=128,
                               runs_dir=str(runs), profile_count=12, study="m"))
        out = finalize_study(FinalizeSettings(study="m", runs_dir=str(runs), top=1, compress=("quantize",),
                                              qat="never"))
    folder = runs / "m" / "final" / f"trial-{out['models'][0].trial:05d}"
    test = load_dataset("mnist", mnist, seed=0).test
    pngs = tmp / "png"
    pngs.mkdir()
    images = []
    for i, image in enumerate(test.images):
        images.append(pngs / f"{i:05d}.png")
        Image.fromarray(image[0]).save(images[-1])
    return Shipped(folder, json.loads((folder / "model_card.json").read_text()), images, test.labels)


def test_the_loader_on_raw_mnist_files_gives_exactly_the_cards_test_accuracy(shipped):
    model = load_model(shipped.folder)
    predicted = np.array([p.index for p in model.predict(shipped.images)])
    card_accuracy = shipped.card["variants"][shipped.card["shipped"]]["test_accuracy"]
    assert float((predicted == shipped.labels).mean()) == card_accuracy
    assert card_accuracy > 0.15  # above chance (0.10 on 2,000 images): the match is a trained model's


def test_search_predict_prints_one_line_per_image_with_the_same_labels(shipped, capsys):
    files = shipped.images[:40]
    assert main(["predict", "--model", str(shipped.folder), *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    model = load_model(shipped.folder)
    assert [line.split("\t")[:2] for line in lines] == [[str(f), p.label]
                                                        for f, p in zip(files, model.predict(files))]


def test_the_card_states_the_input_contract(shipped):
    contract = shipped.card["input"]
    assert contract["dtype"] == "uint8" and contract["layout"] == "NCHW" and contract["channels"] == "grey"
    assert contract["shape"] == [1, 1, 16, 16] and contract["native_size"] == 28
    assert contract["class_names"] == [str(i) for i in range(10)]
    assert contract["normalization"]["from"] == "the training split"
    assert "Input contract" in (shipped.folder / "MODEL_CARD.md").read_text()
    for name in shipped.card["files"]:  # every shipped file takes raw pixels
        import onnxruntime as ort

        session = ort.InferenceSession(str(shipped.folder / name), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].type == "tensor(uint8)"


BLOCKER = """
import importlib.abc, sys
ALLOWED_THIRD_PARTY = {"numpy", "PIL", "onnxruntime"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top in ("search", "spaces"):
            return None
        if top.startswith("_") or top in ("sitecustomize", "usercustomize"):
            return None
        raise ImportError(f"blocked: {name} (only numpy, Pillow and onnxruntime may be used)")
sys.meta_path.insert(0, Block())
"""


def test_a_copied_folder_classifies_with_only_numpy_pillow_and_onnxruntime(shipped, tmp_path):
    """torch, optuna, scikit-learn, timm, Ray and onnx cannot even be imported in the child."""
    elsewhere = tmp_path / "model"
    shutil.copytree(shipped.folder, elsewhere)
    files = [str(f) for f in shipped.images[:20]]
    script = BLOCKER + textwrap.dedent(f"""
        from search.deploy import load_model
        model = load_model({str(elsewhere)!r})
        print(" ".join(p.label for p in model.predict({files!r})))
        assert "torch" not in sys.modules and "optuna" not in sys.modules
        from search.deploy.predict import main
        sys.argv = ["predict", "--model", {str(elsewhere)!r}, *{files[:3]!r}]
        main()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr
    labels = [p.label for p in load_model(shipped.folder).predict(files)]
    first, *lines = done.stdout.strip().splitlines()
    assert first == " ".join(labels)
    assert [line.split("\t")[1] for line in lines] == labels[:3]  # python -m search.deploy's lines


def test_grey_models_take_rgb_images_and_arrays_of_any_size(shipped, tmp_path):
    model = load_model(shipped.folder)
    grey = np.asarray(Image.open(shipped.images[0]))
    rgb = tmp_path / "rgb.jpg"
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(rgb, quality=100)
    big = np.asarray(Image.fromarray(grey).resize((56, 56), Image.BILINEAR))
    expected = model.predict(shipped.images[0])[0].label
    assert model.predict(np.stack([grey] * 3, axis=-1))[0].label == expected  # R=G=B: the same luma
    assert model.predict(rgb)[0].label in model.labels and len(model.predict([big, grey])) == 2
    assert model.predict(grey)[0].probabilities.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("given, message", [
    (np.zeros((28, 28), dtype=np.float32), "uint8"),
    (np.zeros((2, 1, 28, 28), dtype=np.uint8), "give a batch as a list"),
    (42, "expected an image file path"),
])
def test_wrong_inputs_are_one_clear_error(shipped, given, message):
    with pytest.raises(DeployError, match=message):
        load_model(shipped.folder).predict(given)


def test_wrong_folders_and_files_are_one_clear_error(shipped, tmp_path, capsys):
    with pytest.raises(DeployError, match="no such model folder"):
        load_model(tmp_path / "nothing")
    with pytest.raises(DeployError, match="not a model folder"):
        load_model(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert main(["predict", "--model", str(shipped.folder), str(tmp_path / "broken.png"),
                 str(shipped.images[0])]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "broken.png: not a readable image" in captured.err
    assert captured.out.count("\n") == 1  # the good image is still classified
