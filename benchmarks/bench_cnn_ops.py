"""beras.nn CNN ops vs tf.nn at ResNet-20's CIFAR stage shapes (batch 128), float32, alternating in one run.

    python -m benchmarks cnn_ops

Goals (beras / eager TF, issue 11): conv2d forward <= 1.2x; every other row (conv2d forward+backward,
pooling forward and forward+backward, batch norm training) <= 1.5x. tf.function figures are printed
for reference. Each conv row also gives the GFLOP/s reached (forward 2*N*Ho*Wo*kh*kw*C*F flops,
forward+backward 3x that: the input and filter gradients cost one forward each); a table of every
row closes the run.

Where beras misses (measured on the 2-core box; the closing notes of issues 3 and 11): the
32x32x16->16 convolution is one (131072 x 144) @ (144 x 16) product over a 75 MB patch matrix; OpenBLAS
runs that 16-column sgemm at ~55 GFLOP/s from memory, ~90 from cache (vs ~180 for square products), and
building the patch matrix is a single-threaded strided copy (~16 ms), while TF's oneDNN convolves
directly without im2col. Floor of any im2col scheme there: the in-cache product alone (~6.5 ms on 2
cores) plus a one-core copy (~5 ms) is ~1.4x TF's 8.5 ms, so the 1.2x forward goal is out of reach with
NumPy on 2 cores unless the copies run on both cores (Python threads, with OpenBLAS held to one thread so
that its own two do not oversubscribe the box: built since, below). The stride-2 backward pays for a
strided scatter-add per tap.
Batch-blocked im2col (~2 MB of patches at a time, each window row of kw*C values copied as one run,
dw accumulated per block): 1.3-1.6x less single-thread CPU time on the stride-1 convs (fwd and fwd+bwd),
1.8x less wall time at 32x32x16->16 with one other process on the box, but 2-4x MORE wall time inside
this benchmark on a loaded box (load 3-4, TF's thread pool alternating in the same process): each of
its dozens of mid-sized products waits for OpenBLAS's second thread, which the scheduler gives away. Not kept:
a win only on an idle machine. Kept since (issue 11, second pass): the same batch blocks (~1 MB of patches, the
whole batch in one block under 1 MB) run on two Python threads (beras.nn.conv.run_blocks: this thread and one
pooled worker take the next block as they finish one, with OpenBLAS limited to one thread by threadpoolctl
meanwhile, so no product waits for OpenBLAS's own threads); NumPy drops the GIL in the copies and products, so
both cores build patches and multiply; backward: dx per block (the rotated-filter correlation for stride 1,
the scatter-add for larger strides), dw summed over the blocks' partial products in block order. Same sums
as before (float64 within 2e-15 relative). Side by side with the previous kernels in one alternating run
(25 rounds, order swapped every round; load 7-8 on the 2 cores, the only conditions that hour), median of
the per-round new/old ratios: fwd 0.51 / fwd+bwd 0.41 at 32x32x16->16, 0.73 / 0.56 at 16x16x32->32,
0.84 / 0.47 at 32x32x16->32 s2, 0.88 / 0.71 at 16x16x32->64 s2, 0.80 / 0.77 at 8x8x64->64; at load ~3 with
TF in the same run: 32x32x16->16 fwd 62 -> 26 ms (TF 13), fwd+bwd 213 -> 96 ms (TF 25), 16x16x32->32 fwd
32 -> 16 ms (TF 9), fwd+bwd 74 -> 37 ms (TF 24). Under load the old single product also paid 8-30 ms stalls
at small sizes (OpenBLAS waiting for its descheduled second thread, in 4 ms scheduler ticks); one-thread BLAS
on blocks avoids them, and a block the worker never started is taken back. The ratio goals were not
measured on a quiet box (none that day): still above them at load 3 (fwd 1.7-2.9x, fwd+bwd 1.3-3.8x).
Copying runs of kw*C values inside the threaded blocks: no gain (slower on stride 2).
Tried and dropped (no gain or too clever for the course): per-tap
products (K=C; 1.0x), row-tap products (horizontal im2col, K=kw*C, three row-offset products: ~1.2x over
blocked im2col at 32x32x16->16 only, slower elsewhere), CNHW im2col with the transposed product (also
blocked: slower), copying runs of kw*C values without blocking (1.0x: the copy is bandwidth-bound),
pairs of output columns per row (1.35x, but a block-Toeplitz filter), zero-inserted dout for stride 2
(4x the flops), col2im by stride phases or by runs of sw*C values for the stride-2 backward (no gain
within the whole backward). Not built: Winograd F(2x2,3x3) (estimated from its NumPy passes over ~35 MB
of transformed tiles plus 16 K=16 products: slower than the product it saves at C=F=16).
Third pass (issue 11): Winograd F(2x2,3x3) built and measured (float32 error 2-3e-7 relative, below direct
im2col's 6e-7): its 16 products are 3x faster than the im2col product, but its NumPy tile transforms make a
block of 8 images 3.7 ms against 0.94 ms for im2col (one thread), so not kept. Each conv row now also prints its
"products alone" (the same blocks' products, operands in cache, no copy, two threads): at 32x32x16->16 that
floor alone is 1.0-1.2x TF's whole time, so no im2col kernel can meet the 1.2x forward goal there; elsewhere
0.6-0.9x, the rest is the patch copies (~4 ms of 12 ms at 32x32x16->16) and the two threads' poor scaling on
mid-sized NumPy calls (each call drops and retakes the GIL). Fresh allocations cost too (glibc returns freed
blocks to the OS and page-faults them back): mallopt(M_MMAP_THRESHOLD / M_TRIM_THRESHOLD) makes the serial conv
1.7x faster, but eager TF in the same process gains as much, so the ratios stay; per-thread scratch buffers
for the patches were slower (a 6-D copyto). Pooling runs on batch blocks on two threads (beras.nn.conv.by_blocks,
in the primitives' glue) and max pooling never builds its padding; batch norm sums channels by one BLAS
product with a ones vector (beras.core.tensor.unbroadcast), 0.4-0.8x TF. Eager TF's pooling time moves between
runs (0.4-1.9 ms at 32x32x16), so the pooling forward ratios move with it (1.0-2.5x).
"""
import os

import numpy as np

from .timing import alternate, report

N = 128
# (label, input shape, filters shape, stride): the 3x3 SAME convs of ResNet-20's three stages
CONVS = [
    ("32x32x16->16 s1", (N, 32, 32, 16), (3, 3, 16, 16), 1),
    ("32x32x16->32 s2", (N, 32, 32, 16), (3, 3, 16, 32), 2),
    ("16x16x32->32 s1", (N, 16, 16, 32), (3, 3, 32, 32), 1),
    ("16x16x32->64 s2", (N, 16, 16, 32), (3, 3, 32, 64), 2),
    ("8x8x64->64 s1", (N, 8, 8, 64), (3, 3, 64, 64), 1),
]
POOLS = [("max 2x2/2 VALID", "max", 2, 2, "VALID"), ("max 3x3/2 SAME", "max", 3, 2, "SAME"),
         ("avg 2x2/2 VALID", "avg", 2, 2, "VALID")]
FEATURES = [(N, 32, 32, 16), (N, 16, 16, 32), (N, 8, 8, 64)]


def roofline(rng):
    """The machine's ceilings, measured now (the box is shared: they move): a square float32 GEMM, the
    skinny GEMM of the 32x32x16->16 conv's im2col ((N*32*32) x 144 @ 144 x 16) and a large copy."""
    import time

    def med(f, repeats=5):
        f()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return float(np.median(ts))
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    cols, w = rng.standard_normal((N * 1024, 144)).astype(np.float32), rng.standard_normal((144, 16)).astype(np.float32)
    big = rng.standard_normal(2**24).astype(np.float32)
    dst = np.empty_like(big)
    square = 2 * 1024**3 / med(lambda: a @ a) / 1e9
    skinny = 2 * cols.shape[0] * 144 * 16 / med(lambda: cols @ w) / 1e9
    copy = 2 * big.nbytes / med(lambda: np.copyto(dst, big)) / 1e9
    print(f"roofline now: square sgemm {square:.1f} GFLOP/s, im2col sgemm (K=144, N=16) {skinny:.1f} GFLOP/s, "
          f"copy {copy:.1f} GB/s", flush=True)


def products_alone(xs, ws, s):
    """The conv's matrix products alone, cut into blocks as the kernels cut them (beras.nn.conv.by_blocks:
    BLOCK_BYTES of patches forward, BACKWARD_BLOCK_BYTES backward; two threads), but with every block's
    operands already in the cache and no patch copied: a floor for any im2col kernel.
    -> (forward ms, forward+backward ms); backward: dw = cols.T @ dout and dx's product (stride 1: the
    rotated-filter correlation, K = kh*kw*F; else dout @ w.T, then the scatter, not counted)."""
    import threading

    from beras.nn.conv import BACKWARD_BLOCK_BYTES, BLOCK_BYTES, by_blocks, images_per_block

    rng = np.random.default_rng(1)
    n, (kh, kw, c, f) = xs[0], ws
    ho, wo = -(-xs[1] // s), -(-xs[2] // s)
    k = kh * kw * c
    mine = threading.local()           # each thread writes its own results (no cache line shared for writing)

    def arrays(*shapes):
        return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]

    def mine_out(name, shape):
        if not hasattr(mine, name):
            setattr(mine, name, np.empty(shape, np.float32))
        return getattr(mine, name)

    per_fwd = ho * wo * k * 4                                          # as conv2d_forward counts it
    rows = images_per_block(n, per_fwd) * ho * wo
    cols, w2 = arrays((rows, k), (k, f))

    def fwd(_):
        np.matmul(cols, w2, out=mine_out("out", (rows, f)))

    per_bwd = ho * wo * kh * kw * max(c, f) * 4                        # as conv2d_backward counts it
    step = images_per_block(n, per_bwd, BACKWARD_BLOCK_BYTES)
    bcols, g = arrays((step * ho * wo, k), (step * ho * wo, f))
    if s == 1:
        dcols, w_rot = arrays((step * xs[1] * xs[2], kh * kw * f), (kh * kw * f, c))

    def bwd(_):
        bcols.T @ g
        if s == 1:
            np.matmul(dcols, w_rot, out=mine_out("dx", (dcols.shape[0], c)))
        else:
            g @ w2.T

    def ms(per_image, job, target):
        return float(np.median([_seconds(lambda: by_blocks(n, per_image, job, target)) for _ in range(7)])) * 1e3
    forward = ms(per_fwd, fwd, BLOCK_BYTES)
    return forward, forward + ms(per_bwd, bwd, BACKWARD_BLOCK_BYTES)


def first_pass(x, kind):
    """The first NumPy pass of any separable pooling alone, as beras runs it (by_blocks, two threads): the
    max (or sum) of each pair of rows, reading the whole input once. A floor for the pooling forward rows."""
    from beras.nn.conv import by_blocks

    op = np.fmax if kind == "max" else np.add
    out = np.empty((x.shape[0], x.shape[1] // 2, *x.shape[2:]), x.dtype)

    def job(rows):
        op(x[rows, 0::2], x[rows, 1::2], out=out[rows])
    return lambda: by_blocks(len(x), x[0].nbytes, job)


def _seconds(fn):
    import time
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _grad_step(lib, fn, xs):
    """Forward under a tape and the gradient of the output's sum w.r.t. every input."""
    with lib.GradientTape() as tape:
        tape.watch(xs)
        out = fn(*xs)
    return tape.gradient(out, xs)


def main(sections=("conv", "pool", "bn")):
    import keras
    import tensorflow as tf

    import beras

    rng = np.random.default_rng(0)
    print(f"float32, batch {N}; {os.cpu_count()} cores; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}; "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(default)')}; TF eager unless noted")
    roofline(rng)
    ratios, table, floors = {}, [], {}

    def case(label, beras_fn, tf_fn, goal, tf_graph_fn=None, flops=None, **more):
        contenders = {"beras": beras_fn, "tf": tf_fn}
        if tf_graph_fn is not None:
            contenders["tf.function"] = tf_graph_fn
        contenders.update(more)
        medians = alternate(contenders, repeats=7)
        ratios[label] = report(label, medians, goal=goal)
        if "floor" in medians:
            floors[label] = medians["floor"] / medians["tf"]
        gflops = {k: flops / v / 1e9 for k, v in medians.items()} if flops else {}
        if flops:
            print(f"{'':<48} GFLOP/s: " + "  ".join(f"{k}={v:6.1f}" for k, v in gflops.items()), flush=True)
        table.append((label, medians["beras"], medians["tf"], ratios[label], goal, gflops.get("beras"),
                      gflops.get("tf")))

    for label, xs, ws, s in CONVS if "conv" in sections else []:
        x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
        flops = 2 * xs[0] * -(-xs[1] // s) * -(-xs[2] // s) * ws[0] * ws[1] * ws[2] * ws[3]
        bx, bw, tx, tw = beras.constant(x), beras.constant(w), tf.constant(x), tf.constant(w)
        f_tf = tf.function(lambda x, w, s=s: tf.nn.conv2d(x, w, s, "SAME"))
        g_tf = tf.function(lambda x, w, s=s: _grad_step(tf, lambda a, b: tf.nn.conv2d(a, b, s, "SAME"), [x, w]))
        case(f"conv2d fwd      {label}", lambda: beras.nn.conv2d(bx, bw, s, "SAME"),
             lambda: tf.nn.conv2d(tx, tw, s, "SAME"), 1.2, lambda: f_tf(tx, tw), flops=flops)
        case(f"conv2d fwd+bwd  {label}",
             lambda: _grad_step(beras, lambda a, b: beras.nn.conv2d(a, b, s, "SAME"), [bx, bw]),
             lambda: _grad_step(tf, lambda a, b: tf.nn.conv2d(a, b, s, "SAME"), [tx, tw]), 1.5,
             lambda: g_tf(tx, tw), flops=3 * flops)
        for row, alone in zip(table[-2:], products_alone(xs, ws, s)):
            floors[row[0]] = alone / 1e3 / row[2]
            print(f"{'':<48} products alone (in cache, 2 threads): {alone:.2f} ms = {floors[row[0]]:.2f}x TF",
                  flush=True)

    for label, kind, k, s, p in POOLS if "pool" in sections else []:
        b_pool = {"max": beras.nn.max_pool2d, "avg": beras.nn.avg_pool2d}[kind]
        t_pool = {"max": tf.nn.max_pool2d, "avg": tf.nn.avg_pool2d}[kind]
        for shape in FEATURES[:2]:
            x = rng.standard_normal(shape).astype(np.float32)
            bx, tx = beras.constant(x), tf.constant(x)
            tag = "x".join(map(str, shape[1:]))
            case(f"{kind}_pool fwd     {label} {tag}", lambda: b_pool(bx, k, s, p), lambda: t_pool(tx, k, s, p), 1.5,
                 floor=first_pass(x, kind))
            case(f"{kind}_pool fwd+bwd {label} {tag}",
                 lambda: _grad_step(beras, lambda a: b_pool(a, k, s, p), [bx]),
                 lambda: _grad_step(tf, lambda a: t_pool(a, k, s, p), [tx]), 1.5)

    def bn_train(nn):
        def f(x, gamma, beta):
            mean, variance = nn.moments(x, [0, 1, 2])
            return nn.batch_normalization(x, mean, variance, beta, gamma, 1e-3)
        return f

    for shape in FEATURES if "bn" in sections else []:
        c = shape[-1]
        x = rng.standard_normal(shape).astype(np.float32)
        gamma, beta = (1 + 0.1 * rng.standard_normal(c)).astype(np.float32), np.zeros(c, np.float32)
        bxs, txs = [beras.constant(a) for a in (x, gamma, beta)], [tf.constant(a) for a in (x, gamma, beta)]
        g_tf = tf.function(lambda *xs: _grad_step(tf, bn_train(tf.nn), list(xs)))
        layer = keras.layers.BatchNormalization()
        layer.build(shape)

        def keras_layer(layer=layer, tx=txs[0]):  # eager keras layer, training=True (also updates moving stats)
            with tf.GradientTape() as tape:
                tape.watch(tx)
                out = layer(tx, training=True)
            return tape.gradient(out, [tx, *layer.trainable_weights])

        tag = "x".join(map(str, shape[1:]))
        case(f"batch norm train fwd+bwd {tag}", lambda: _grad_step(beras, bn_train(beras.nn), bxs),
             lambda: _grad_step(tf, bn_train(tf.nn), txs), 1.5, lambda: g_tf(*txs), keras_layer=keras_layer)

    print_table(table, floors)
    worst = max(ratios.items(), key=lambda kv: kv[1])
    print(f"worst ratio vs eager TF: {worst[1]:.2f}x ({worst[0].strip()})")
    return ratios


def print_table(table, floors=None):
    """Every row side by side (markdown): medians, the ratio against its goal, GFLOP/s for convs, and a floor
    over TF's time (convs: :func:`products_alone`; pooling forward: :func:`first_pass`)."""
    floors = floors or {}
    print("\n| case | beras ms | TF eager ms | ratio | goal | beras GFLOP/s | TF GFLOP/s | floor / TF |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, b, t, ratio, goal, gb, gt in table:
        fmt = (lambda v, unit="": "" if v is None else f"{v:.{2 if unit else 1}f}{unit}")
        mark = "" if ratio <= goal else " (above)"
        print(f"| {' '.join(label.split())} | {b * 1e3:.2f} | {t * 1e3:.2f} | {ratio:.2f}x{mark} | {goal}x | "
              f"{fmt(gb)} | {fmt(gt)} | {fmt(floors.get(label), 'x')} |", flush=True)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:] or ("conv", "pool", "bn"))
