"""Keras 3 optimizers: SGD, RMSprop, Adam, with Keras's defaults, update rules and update order.

    opt = beras.optimizers.Adam(learning_rate=1e-3)
    with beras.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.trainable_weights)
    opt.apply_gradients(zip(grads, model.trainable_weights))

Each optimizer keeps its slot arrays (momentums, velocities, ...) per variable, created as zeros
the first time it sees the variable. Updates are vectorized NumPy in the variable's dtype; the
arithmetic follows keras/src/optimizers/*.py step by step so float32 results match Keras's.
"""
from __future__ import annotations

import warnings

import numpy as np

from .core.tensor import Variable

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "get"]


def _cast(x, dtype):
    """Keras's ``ops.cast(python_float, dtype)``: the float becomes a float32 tensor first, then ``dtype``."""
    return np.dtype(dtype).type(np.float32(x))


class Optimizer:
    """Base class. Subclasses define ``update_step(gradient, variable, learning_rate)`` on NumPy arrays.

    ``learning_rate`` is a float32 Variable (like Keras; assign a number to change it) and
    ``iterations`` an int64 Variable counting ``apply_gradients`` calls.
    """

    _slot_names: tuple = ()

    def __init__(self, learning_rate=0.001, name=None):
        self.name = name or type(self).__name__.lower()
        self._learning_rate = Variable(np.float32(learning_rate), trainable=False, name="learning_rate")
        self.iterations = Variable(np.int64(0), trainable=False, name="iteration")
        self._slots = {}  # id(variable) -> (variable, {slot name: array})

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate.assign(np.float32(value))

    def slots(self, variable):
        """The slot arrays of ``variable`` (zeros on first use), e.g. ``{'momentum': ..., 'velocity': ...}``."""
        entry = self._slots.get(id(variable))
        if entry is None:
            entry = (variable, {n: np.zeros(variable.shape, variable.dtype) for n in self.slot_names()})
            self._slots[id(variable)] = entry
        return entry[1]

    def slot_names(self):
        return self._slot_names

    def apply_gradients(self, grads_and_vars):
        """Update each variable from its gradient; ``None`` gradients are skipped (with a warning)."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        missing = [v.name for g, v in pairs if g is None]
        pairs = [(g, v) for g, v in pairs if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss.", stacklevel=2)
        for g, v in pairs:
            if not isinstance(v, Variable):
                raise TypeError(f"apply_gradients needs beras.Variables, got {type(v).__name__}")
            g = np.asarray(g)
            if g.shape != v.shape:
                raise ValueError(f"Gradient of shape {g.shape} does not match variable '{v.name}' "
                                 f"of shape {v.shape}")
            self.update_step(g.astype(v.dtype, copy=False), v, self._learning_rate.numpy().astype(v.dtype))
        self.iterations.assign_add(1)
        return self.iterations

    def apply(self, grads, trainable_variables):
        """``apply_gradients(zip(grads, trainable_variables))``, like Keras's ``optimizer.apply``."""
        return self.apply_gradients(zip(grads, trainable_variables))

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "learning_rate": float(self._learning_rate.numpy())}

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"<beras.optimizers.{type(self).__name__} {cfg}>"


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    momentum = 0:  ``w -= lr * g``
    momentum > 0:  ``m = momentum * m - lr * g``; ``w += m``
    nesterov:      ``m = momentum * m - lr * g``; ``w += momentum * m - lr * g``
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum, self.nesterov = momentum, nesterov

    def slot_names(self):
        return ("momentum",) if self.momentum != 0 else ()

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum == 0:
            variable.assign_sub(gradient * learning_rate)
            return
        momentum = _cast(self.momentum, variable.dtype)
        m = self.slots(variable)["momentum"]
        m[...] = m * momentum - gradient * learning_rate
        if self.nesterov:
            variable.assign_add(m * momentum - gradient * learning_rate)
        else:
            variable.assign_add(m)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of recent gradients.

    ``v = rho * v + (1 - rho) * g**2``; centered: ``a = rho * a + (1 - rho) * g`` and the
    denominator is ``v - a**2 + eps``, otherwise ``v + eps``; ``inc = lr * g / sqrt(denominator)``;
    with momentum ``m = momentum * m + inc; w -= m``, otherwise ``w -= inc``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name=None):
        super().__init__(learning_rate, name)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def slot_names(self):
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) + (
            ("average_gradient",) if self.centered else ())

    def update_step(self, gradient, variable, learning_rate):
        s = self.slots(variable)
        t = variable.dtype.type
        rho = t(self.rho)
        velocity = s["velocity"]
        velocity[...] = rho * velocity + t(1 - self.rho) * np.square(gradient)
        if self.centered:
            avg = s["average_gradient"]
            avg[...] = rho * avg + t(1 - self.rho) * gradient
            denominator = velocity - np.square(avg) + t(self.epsilon)
        else:
            denominator = velocity + t(self.epsilon)
        increment = learning_rate * gradient / np.sqrt(denominator)
        if self.momentum > 0:
            m = s["momentum"]
            m[...] = t(self.momentum) * m + increment
            variable.assign_sub(m)
        else:
            variable.assign_sub(increment)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Adam with Keras 3's bias correction folded into the step size.

    ``m += (g - m) * (1 - beta_1)``; ``v += (g**2 - v) * (1 - beta_2)``;
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``; ``w -= m * alpha / (sqrt(v) + epsilon)``
    where ``t = iterations + 1``. amsgrad uses the running maximum of ``v``.
    (Epsilon is therefore added to the *uncorrected* ``sqrt(v)``, unlike the paper's formula.)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name=None):
        super().__init__(learning_rate, name)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def slot_names(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def update_step(self, gradient, variable, learning_rate):
        s = self.slots(variable)
        t = variable.dtype.type
        local_step = t(int(self.iterations.numpy()) + 1)
        beta_1_power = np.power(_cast(self.beta_1, variable.dtype), local_step)
        beta_2_power = np.power(_cast(self.beta_2, variable.dtype), local_step)
        alpha = learning_rate * np.sqrt(t(1) - beta_2_power) / (t(1) - beta_1_power)
        m, v = s["momentum"], s["velocity"]
        m += (gradient - m) * t(1 - self.beta_1)
        v += (np.square(gradient) - v) * t(1 - self.beta_2)
        if self.amsgrad:
            v_hat = s["velocity_hat"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        variable.assign_sub((m * alpha) / (np.sqrt(v) + t(self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


_OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier):
    """An optimizer from a name ('sgd', 'adam', 'rmsprop'; any case), a class, or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}. Valid names: {sorted(_OPTIMIZERS)}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                     f"Use an Optimizer or one of {sorted(_OPTIMIZERS)}")

