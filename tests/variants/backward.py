"""Chapter 12, numerical_gradient: one-bug versions of the reference answer, and the bug
each must be caught as."""
import numpy as np


def catalogue():
    def _differences(f, x, eps, step, restore=True, sign=1.0, one_sided=False):
        grad = np.zeros_like(x)
        flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
        for i in range(flat_x.size):
            old = flat_x[i]
            flat_x[i] = old + eps
            plus = f(x)
            flat_x[i] = old if one_sided else old - eps
            minus = f(x)
            if restore:
                flat_x[i] = old
            flat_g[i] = sign * (plus - minus) / step
        return grad

    def forward_difference(f, x, eps=1e-6):
        return _differences(f, x, eps, eps, one_sided=True)

    def missing_the_two(f, x, eps=1e-6):
        return _differences(f, x, eps, eps)

    def not_restored(f, x, eps=1e-6):
        return _differences(f, x, eps, 2 * eps, restore=False)

    def wrong_sign(f, x, eps=1e-6):
        return _differences(f, x, eps, 2 * eps, sign=-1.0)

    return [
        ("numerical_gradient", forward_difference, "forward-difference"),
        ("numerical_gradient", missing_the_two, "central-difference-not-halved"),
        ("numerical_gradient", not_restored, "x-not-restored"),
        ("numerical_gradient", wrong_sign, "gradient-sign-flipped"),
    ]
