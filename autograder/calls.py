"""What a hidden test's ``call`` / ``vjp`` / ``probe`` does with the student's code: the one definition,
used by the sandboxed worker (``worker.py``) and by :class:`autograder.hidden.LocalStudent`.

Self-contained on purpose (only importlib): the project is not importable inside the sandbox, so
``student.py`` sends this file's source (after ``wire.py``'s) ahead of ``worker.py``'s. The functions
return the raw values; each side turns them into plain data with ``wire.to_plain``.
"""
import importlib


def resolve(name, namespace, package, missing=NameError):
    """``"pkg.mod.fn"`` imports pkg.mod and returns fn (a module the notebook bound, such as ``np`` in
    ``"np.add"``, is taken from ``namespace`` unless it is the stencil ``package``); a bare name is looked
    up in ``namespace``, else ``missing`` is raised."""
    if "." not in name:
        if name not in namespace:
            raise missing(f"`{name}` is not defined in your notebook")
        return namespace[name]
    module, _, attr = name.rpartition(".")
    if module in namespace and not module.startswith(package):
        obj = namespace[module]
    else:
        obj = importlib.import_module(module)
    return getattr(obj, attr)


def vjp(fn, args, kwargs, wrt, upstream, package):
    """Run ``fn`` under the stencil ``package``'s own autodiff (``constant``, ``GradientTape``):
    ``(output, [its gradient w.r.t. args[i] for i in wrt])``, ``upstream`` the output gradient."""
    lib = importlib.import_module(package)
    args = [lib.constant(a) if i in wrt else a for i, a in enumerate(args)]
    with lib.GradientTape() as tape:
        tape.watch([args[i] for i in wrt])
        value = fn(*args, **kwargs)
    grads = tape.gradient(value, [args[i] for i in wrt], output_gradients=upstream)
    return value, grads


def probe(code, namespace, inputs):
    """Execute trusted instructor ``code`` in a copy of ``namespace`` with ``inputs`` bound; its
    ``result`` variable (None when unset)."""
    scope = dict(namespace)
    scope.update(inputs)
    scope["result"] = None
    exec(compile(code, "<hidden test probe>", "exec"), scope)  # noqa: S102 - trusted instructor code
    return scope.get("result")
