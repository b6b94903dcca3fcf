"""Make the capstone's data: digits from scikit-learn and a small CNN trained on them.

    .venv/bin/python tools/make_capstone_data.py

Writes
  data/capstone_digits.npz  x_train, y_train, x_test, y_test: 16×16 digits, uint8 values 0…16
  data/capstone_cnn.npz     the trained model's state_dict as float32 arrays, plus
                            test_logits (float32, eval mode) and test_accuracy

The digits are scikit-learn's bundled copy of the UCI handwritten digits (8×8, values 0…16,
no download), each pixel repeated 2×2 to make a 16×16 image. The model is
autograder.checks.capstone.digit_cnn(); training is seeded and takes a few seconds on a CPU.
"""
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from autograder.checks.capstone import digit_cnn

DATA = Path(__file__).resolve().parent.parent / "data"
SEED = 0
N_TEST = 500
EPOCHS = 20


def digits():
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)                        # (1797, 8, 8), 0…16
    images = images.repeat(2, axis=1).repeat(2, axis=2)            # (1797, 16, 16)
    labels = bunch.target.astype(np.uint8)
    order = np.random.default_rng(SEED).permutation(len(images))
    test, train = order[:N_TEST], order[N_TEST:]
    return images[train], labels[train], images[test], labels[test]


def train(x_train, y_train):
    torch.manual_seed(SEED)
    model = digit_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.from_numpy(x_train[:, None].astype(np.float32) / 16)
    y = torch.from_numpy(y_train.astype(np.int64))
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    return model.eval()


def main():
    torch.set_num_threads(1)
    x_train, y_train, x_test, y_test = digits()
    np.savez_compressed(DATA / "capstone_digits.npz", x_train=x_train, y_train=y_train,
                        x_test=x_test, y_test=y_test)
    model = train(x_train, y_train)
    with torch.no_grad():
        logits = model(torch.from_numpy(x_test[:, None].astype(np.float32) / 16)).numpy()
    accuracy = float((logits.argmax(axis=1) == y_test).mean())
    state = {name: value.numpy() for name, value in model.state_dict().items()
             if name.split(".")[-1] != "num_batches_tracked"}
    np.savez_compressed(DATA / "capstone_cnn.npz", **state, test_logits=logits,
                        test_accuracy=np.array(accuracy))
    print(f"test accuracy {accuracy:.3f} on {len(y_test)} digits")


if __name__ == "__main__":
    main()
