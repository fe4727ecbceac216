"""``Model.summary()``: Keras's table of layers, output shapes and parameter counts."""
from __future__ import annotations

import numpy as np


class Summary:
    """``summary()`` (and the rows it prints), mixed into :class:`~beras.models.functional.Model`."""

    def _summary_rows(self):
        """(name (type), output shape, params, connected to) for each layer."""
        rows = []
        if self._functional:
            shapes = {id(layer): (t.shape,) for layer, t in zip(self._input_layers, self._inputs)}
            sources = {id(t): layer.name for layer, t in zip(self._input_layers, self._inputs)}
            for node in self._nodes:
                outs = [node.outputs[i].shape for i in sorted(node.outputs)]
                shapes[id(node.layer)] = tuple(outs)
                for t in node.outputs.values():
                    sources[id(t)] = node.layer.name
            for layer in self.layers:
                node = next((nd for nd in self._nodes if nd.layer is layer), None)
                links = "-" if node is None else ", ".join(
                    f"{sources.get(id(t), t.name)}[0][{t.index}]" for t in node.inputs)
                shape = shapes.get(id(layer), ("?",))
                rows.append((layer, shape[0] if len(shape) == 1 else list(shape), links))
        else:
            out_shapes = getattr(self, "_output_shapes", {})
            for layer in self.layers:
                rows.append((layer, out_shapes.get(id(layer), "?"), None))
        return rows

    def summary(self, line_length=None, print_fn=None):
        """Print a Keras-like table of layers, output shapes and parameter counts."""
        print_fn = print_fn or print
        rows = self._summary_rows()
        connected = self._functional and len(self._nodes) > 0
        widths = [22, 19, 12, 21] if connected else [33, 24, 15]
        heads = ["Layer (type)", "Output Shape", "Param #", "Connected to"][:len(widths)]

        def fit_text(text, width, right=False):
            text = str(text)
            if len(text) > width - 2:
                text = text[:width - 3] + "…"
            return f" {text:>{width - 2}} " if right else f" {text:<{width - 2}} "

        def line(cells, left, mid, right):
            return left + mid.join(fit_text(c, w, right=(i == 2)) for i, (c, w) in enumerate(zip(cells, widths))) + right

        def rule(left, mid, right, fill):
            return left + mid.join(fill * w for w in widths) + right

        print_fn(f'Model: "{self.name}"')
        print_fn(rule("┏", "┳", "┓", "━"))
        print_fn(line(heads, "┃", "┃", "┃"))
        print_fn(rule("┡", "╇", "┩", "━"))
        for i, (layer, shape, links) in enumerate(rows):
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            cells = [f"{layer.name} ({type(layer).__name__})", shape, params] + ([links] if connected else [])
            print_fn(line(cells, "│", "│", "│"))
            if i < len(rows) - 1:
                print_fn(rule("├", "┼", "┤", "─"))
        print_fn(rule("└", "┴", "┘", "─"))
        trainable = self.trainable_weights if self.built else []
        non_trainable = self.non_trainable_weights if self.built else []
        sizes = [(int(np.prod(w.shape)), w.dtype.itemsize) for w in trainable + non_trainable]
        t_count = sum(int(np.prod(w.shape)) for w in trainable)
        t_bytes = sum(int(np.prod(w.shape)) * w.dtype.itemsize for w in trainable)
        total = sum(s for s, _ in sizes)
        total_bytes = sum(s * b for s, b in sizes)
        print_fn(f" Total params: {total:,} ({_readable_bytes(total_bytes)})")
        print_fn(f" Trainable params: {t_count:,} ({_readable_bytes(t_bytes)})")
        print_fn(f" Non-trainable params: {total - t_count:,} ({_readable_bytes(total_bytes - t_bytes)})")


def _readable_bytes(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.2f} {unit}"
        n /= 1024
